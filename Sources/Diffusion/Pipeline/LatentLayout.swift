/// Latents cross the boundary to PyTorch in its NCHW order (torch.randn's fill order, files
/// written by other tools) while the models here run NHWC. These two permutations are the
/// only place the orders meet.
public enum LatentLayout {
    /// [N, C, H, W] → [N, H, W, C].
    public static func nhwc(fromNCHW x: [Float], batch n: Int, channels c: Int, height h: Int, width w: Int) -> [Float] {
        precondition(x.count == n * c * h * w, "\(x.count) values are not [\(n), \(c), \(h), \(w)]")
        var out = [Float](repeating: 0, count: x.count)
        for b in 0..<n { for ch in 0..<c { for y in 0..<h { for xx in 0..<w {
            out[((b * h + y) * w + xx) * c + ch] = x[((b * c + ch) * h + y) * w + xx]
        } } } }
        return out
    }

    /// [N, H, W, C] → [N, C, H, W].
    public static func nchw(fromNHWC x: [Float], batch n: Int, channels c: Int, height h: Int, width w: Int) -> [Float] {
        precondition(x.count == n * c * h * w, "\(x.count) values are not [\(n), \(h), \(w), \(c)]")
        var out = [Float](repeating: 0, count: x.count)
        for b in 0..<n { for ch in 0..<c { for y in 0..<h { for xx in 0..<w {
            out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch]
        } } } }
        return out
    }
}
