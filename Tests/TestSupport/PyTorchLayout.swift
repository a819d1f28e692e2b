import ModelIO
import TensorEngine

/// NCHW (PyTorch's image layout) → NHWC (the engine's channels-last one), in plain loops so
/// that tests of the engine's own permutes do not lean on them.
public func nchwToNHWC(_ v: [Float], shape s: [Int]) -> [Float] {
    precondition(s.count == 4, "expected a 4-D shape, got \(s)")
    let (n, c, h, w) = (s[0], s[1], s[2], s[3])
    var out = [Float](repeating: 0, count: v.count)
    for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
        out[((b * h + y) * w + x) * c + ch] = v[((b * c + ch) * h + y) * w + x]
    } } } }
    return out
}

extension SafeTensorsFile {
    /// A stored tensor as an engine tensor; `nhwc` turns a 4-D NCHW tensor into NHWC.
    public func tensor(_ name: String, nhwc: Bool = false) throws -> Tensor {
        let s = try entry(name).shape
        guard nhwc else { return Tensor(try floats(name), shape: s) }
        precondition(s.count == 4, "\(name) is \(s), not 4-D")
        return Tensor(nchwToNHWC(try floats(name), shape: s), shape: [s[0], s[2], s[3], s[1]])
    }
}

/// OIHW (a PyTorch conv weight) → [O, KH, KW, I] (the engine's layout: one im2col row per
/// output channel); the same permutation as NCHW → NHWC.
public func oihwToOHWI(_ v: [Float], shape s: [Int]) -> [Float] { nchwToNHWC(v, shape: s) }
