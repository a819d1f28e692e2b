import Foundation

/// Resampling with a separable Lanczos-3 filter. When shrinking, the filter is stretched by the
/// shrink factor (as PIL does) so that every source pixel contributes: an area-weighted,
/// antialiased downscale rather than point sampling, which would alias fine texture (fabric,
/// hair) into moiré that the model would then learn.
public enum Resampler {
    static let support = 3.0

    static func lanczos3(_ x: Double) -> Double {
        if x == 0 { return 1 }
        if abs(x) >= support { return 0 }
        let px = Double.pi * x
        return support * sin(px) * sin(px / support) / (px * px)
    }

    /// For each output index: the first source index and its normalised weights, stored
    /// flat with a fixed stride (`taps` per output; unused trailing weights are zero).
    struct Taps {
        var start: [Int]
        var count: [Int]
        var weights: [Float]
        var stride: Int
    }

    /// Taps for the outputs `window` of a resize from `inSize` to `outSize`.
    static func taps(inSize: Int, outSize: Int, window: Range<Int>) -> Taps {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let radius = support * filterScale
        let stride = Int((2 * radius).rounded(.up)) + 2
        var taps = Taps(start: [], count: [], weights: [Float](repeating: 0, count: window.count * stride), stride: stride)
        for (j, i) in window.enumerated() {
            let center = (Double(i) + 0.5) * scale
            let lo = max(0, Int((center - radius).rounded(.down)))
            let hi = min(inSize, max(lo + 1, Int((center + radius).rounded(.up))), lo + stride)
            let w = (lo..<hi).map { lanczos3((Double($0) + 0.5 - center) / filterScale) }
            let total = w.reduce(0, +)
            for (k, v) in w.enumerated() { taps.weights[j * stride + k] = Float(total != 0 ? v / total : v) }
            taps.start.append(lo)
            taps.count.append(hi - lo)
        }
        return taps
    }

    /// Resizes to exactly width × height.
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        if width == image.width && height == image.height { return image }
        return resize(image, width: width, height: height, cropX: 0, cropY: 0, cropWidth: width, cropHeight: height)
    }

    /// The rectangle (cropX, cropY, cropWidth, cropHeight) of the image resized to width ×
    /// height — pixel for pixel the same as resizing and then cropping, but computing only the
    /// kept pixels. This matters for the training transform: a 6000×400 panorama scaled so its
    /// short side is 512 would be 7680×512 before the crop keeps 512×512 of it, and a hostile
    /// 50000×1 image would be tens of gigabytes.
    public static func resize(_ image: RGBImage, width: Int, height: Int,
                              cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int) -> RGBImage {
        precondition(width > 0 && height > 0 && cropWidth > 0 && cropHeight > 0 && cropX >= 0 && cropY >= 0
                     && cropX + cropWidth <= width && cropY + cropHeight <= height,
                     "resize to \(width)x\(height), keeping \(cropWidth)x\(cropHeight)+\(cropX)+\(cropY)")
        let inW = image.width
        let tx = taps(inSize: inW, outSize: width, window: cropX..<(cropX + cropWidth))
        let ty = taps(inSize: image.height, outSize: height, window: cropY..<(cropY + cropHeight))
        // Only the source rows some output row reads take part in the horizontal pass.
        let rowLo = ty.start.min()!
        let rowHi = zip(ty.start, ty.count).map { $0 + $1 }.max()!

        // Horizontal pass: source rows rowLo..<rowHi, `cropWidth` pixels each, kept in float.
        var mid = [Float](repeating: 0, count: cropWidth * (rowHi - rowLo) * 3)
        image.pixels.withUnsafeBufferPointer { srcBuffer in
        mid.withUnsafeMutableBufferPointer { dstBuffer in
        tx.weights.withUnsafeBufferPointer { weights in
            let src = srcBuffer.baseAddress!, dst = dstBuffer.baseAddress!, wx = weights.baseAddress!
            for y in rowLo..<rowHi {
                let row = src + y * inW * 3
                for x in 0..<cropWidth {
                    var r: Float = 0, g: Float = 0, b: Float = 0
                    var s = row + tx.start[x] * 3
                    let w = wx + x * tx.stride
                    for k in 0..<tx.count[x] {
                        r += w[k] * Float(s[0]); g += w[k] * Float(s[1]); b += w[k] * Float(s[2])
                        s += 3
                    }
                    let d = dst + ((y - rowLo) * cropWidth + x) * 3
                    d[0] = r; d[1] = g; d[2] = b
                }
            }
        }}}
        // Vertical pass: each output row is a weighted sum of whole rows (contiguous, so the
        // inner loop vectorises), then rounded and clamped (Lanczos overshoots at edges).
        let rowLength = cropWidth * 3
        var out = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        var acc = [Float](repeating: 0, count: rowLength)
        mid.withUnsafeBufferPointer { srcBuffer in
        out.withUnsafeMutableBufferPointer { dstBuffer in
        acc.withUnsafeMutableBufferPointer { accBuffer in
            let src = srcBuffer.baseAddress!, dst = dstBuffer.baseAddress!, sum = accBuffer.baseAddress!
            for y in 0..<cropHeight {
                sum.update(repeating: 0, count: rowLength)
                for k in 0..<ty.count[y] {
                    let w = ty.weights[y * ty.stride + k]
                    let row = src + (ty.start[y] - rowLo + k) * rowLength
                    for i in 0..<rowLength { sum[i] += w * row[i] }
                }
                let d = dst + y * rowLength
                for i in 0..<rowLength { d[i] = UInt8(max(0, min(255, sum[i].rounded()))) }
            }
        }}}
        return RGBImage(width: cropWidth, height: cropHeight, pixels: out)
    }
}

extension RGBImage {
    public func resized(width: Int, height: Int) -> RGBImage { Resampler.resize(self, width: width, height: height) }

    /// Scales so that the shorter side becomes `side`, keeping the aspect ratio (the longer
    /// side rounds to the nearest pixel, never below `side`).
    public func resized(shorterSide side: Int) -> RGBImage {
        let (w, h) = sizeWithShorterSide(side)
        return resized(width: w, height: h)
    }

    /// The size `resized(shorterSide:)` produces.
    public func sizeWithShorterSide(_ side: Int) -> (width: Int, height: Int) {
        let short = min(width, height)
        if short == side { return (width, height) }
        let scale = Double(side) / Double(short)
        let w = width <= height ? side : max(side, Int((Double(width) * scale).rounded()))
        let h = width <= height ? max(side, Int((Double(height) * scale).rounded())) : side
        return (w, h)
    }

    /// Scales to fit inside width × height, keeping the aspect ratio.
    public func resized(fittingIn w: Int, _ h: Int) -> RGBImage {
        let scale = min(Double(w) / Double(width), Double(h) / Double(height))
        return resized(width: max(1, min(w, Int((Double(width) * scale).rounded()))),
                       height: max(1, min(h, Int((Double(height) * scale).rounded()))))
    }

    /// The rectangle at (x, y) of the given size; must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height,
                     "crop \(w)x\(h)+\(x)+\(y) outside \(width)x\(height)")
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for row in 0..<h {
            let s = ((y + row) * width + x) * 3
            out.replaceSubrange((row * w * 3)..<((row + 1) * w * 3), with: pixels[s..<(s + w * 3)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// The centred rectangle of the given size (offsets round down, as torchvision's CenterCrop
    /// rounds the half-difference).
    public func centerCropped(width w: Int, height h: Int) -> RGBImage {
        cropped(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }

    /// The largest centred square.
    public func centerCroppedToSquare() -> RGBImage {
        let side = min(width, height)
        return centerCropped(width: side, height: side)
    }

    /// Mirrored left-right.
    public func flippedHorizontally() -> RGBImage {
        var out = pixels
        for y in 0..<height {
            for x in 0..<width {
                let s = (y * width + x) * 3, d = (y * width + (width - 1 - x)) * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
