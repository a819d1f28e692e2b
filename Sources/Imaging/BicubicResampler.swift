/// Bicubic resampling that reproduces Pillow's `Image.resize(size, Image.BICUBIC)` on 8-bit
/// RGB images byte for byte: the resize CLIP's image processor (transformers'
/// CLIPImageProcessor) does before a CLIP model sees a photo. CLIP scores are compared with
/// published figures computed through Pillow, so the pixels must be Pillow's, not merely a
/// good bicubic resize (the Lanczos `Resampler` is what training uses).
///
/// What Pillow does, and this reproduces:
/// - the cubic convolution kernel with a = −0.5 and support 2;
/// - when shrinking, the kernel is stretched by the scale factor (support 2·scale), so every
///   source pixel contributes (antialiasing); when enlarging, support stays 2;
/// - output pixel i samples around centre (i + 0.5)·scale; the source window is
///   [trunc(centre − support + 0.5), trunc(centre + support + 0.5)) clipped to the image, and
///   the weights are normalised to sum 1 within it (edge pixels are not mirrored);
/// - the weights are rounded to fixed point with 22 fraction bits, sums start at one half and
///   are truncated and clamped to 0…255;
/// - two passes, horizontal first, each rounded to 8 bits; a pass whose size does not change is
///   skipped, and the horizontal pass covers only the rows the vertical pass reads.
public enum BicubicResampler {
    /// Bits of fraction in the fixed-point weights (Pillow: 32 − 8 − 2).
    static let precisionBits = 22
    static let support = 2.0

    /// Keys' cubic convolution kernel with a = −0.5, in the evaluation order Pillow uses
    /// (so the doubles, and hence the rounded weights, come out identical).
    static func cubic(_ t: Double) -> Double {
        let a = -0.5
        let x = abs(t)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// For each output index: the first source index, how many source pixels it reads, and
    /// their fixed-point weights (`stride` per output).
    struct Taps {
        var start: [Int] = []
        var count: [Int] = []
        var weights: [Int] = []
        var stride = 0
    }

    /// Taps for the outputs `window` of a resize from `inSize` to `outSize` (entry j is output
    /// window.lowerBound + j).
    static func taps(inSize: Int, outSize: Int, window: Range<Int>) -> Taps {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let radius = support * filterScale
        let stride = Int(radius.rounded(.up)) * 2 + 1
        let inverse = 1 / filterScale
        var taps = Taps(weights: [Int](repeating: 0, count: window.count * stride), stride: stride)
        for (j, i) in window.enumerated() {
            let center = (Double(i) + 0.5) * scale
            // C's (int) cast truncates toward zero; the window is clipped to the image after.
            let lo = max(0, Int(center - radius + 0.5))
            let hi = min(inSize, Int(center + radius + 0.5))
            let n = max(0, hi - lo)
            var w = [Double](repeating: 0, count: n)
            var total = 0.0
            for k in 0..<n {
                w[k] = cubic((Double(k + lo) - center + 0.5) * inverse)
                total += w[k]
            }
            let one = Double(1 << precisionBits)
            for k in 0..<n {
                let v = total != 0 ? w[k] / total : w[k]
                taps.weights[j * stride + k] = v < 0 ? Int(-0.5 + v * one) : Int(0.5 + v * one)
            }
            taps.start.append(lo)
            taps.count.append(n)
        }
        return taps
    }

    /// A fixed-point sum (with its rounding half already in) → a byte: the integer part,
    /// clamped to 0…255.
    @inline(__always)
    static func clip8(_ sum: Int) -> UInt8 { UInt8(clamping: sum >> precisionBits) }

    /// Resizes to exactly width × height, as Pillow's bicubic resize does.
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resize(image, width: width, height: height, cropX: 0, cropY: 0, cropWidth: width, cropHeight: height)
    }

    /// The rectangle (cropX, cropY, cropWidth, cropHeight) of the image resized to width ×
    /// height: the same bytes as resizing and then cropping (every output pixel depends only on
    /// its own taps), computing only the kept pixels. CLIP's preprocessing keeps a 224 square of
    /// an image scaled to a shorter side of 224; for a hostile 50000×1 image the whole resize
    /// would be 11 200 000×224 pixels.
    public static func resize(_ image: RGBImage, width: Int, height: Int,
                              cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int) -> RGBImage {
        precondition(width > 0 && height > 0 && cropWidth > 0 && cropHeight > 0 && cropX >= 0 && cropY >= 0
                     && cropX + cropWidth <= width && cropY + cropHeight <= height,
                     "bicubic resize to \(width)x\(height), keeping \(cropWidth)x\(cropHeight)+\(cropX)+\(cropY)")
        let columns = cropX..<(cropX + cropWidth), outRows = cropY..<(cropY + cropHeight)
        let resizeX = width != image.width, resizeY = height != image.height
        if !resizeX && !resizeY {
            return cropWidth == width && cropHeight == height ? image
                : image.cropped(x: cropX, y: cropY, width: cropWidth, height: cropHeight)
        }
        let ty = resizeY ? taps(inSize: image.height, outSize: height, window: outRows) : nil
        // The source rows the vertical pass reads (the kept rows themselves when it does not run).
        let rows = ty.map { t in t.start.min()! ..< zip(t.start, t.count).map { $0 + $1 }.max()! } ?? outRows
        let mid = resizeX ? horizontalPass(image, rows: rows, width: width, columns: columns)
                          : image.cropped(x: cropX, y: rows.lowerBound, width: cropWidth, height: rows.count).pixels
        guard let ty else { return RGBImage(width: cropWidth, height: cropHeight, pixels: mid) }
        return RGBImage(width: cropWidth, height: cropHeight,
                        pixels: verticalPass(mid, width: cropWidth, taps: ty, rowOffset: rows.lowerBound))
    }

    /// Source rows `rows`, resampled to `width` across, output columns `columns` kept.
    static func horizontalPass(_ image: RGBImage, rows: Range<Int>, width: Int, columns: Range<Int>) -> [UInt8] {
        let tx = taps(inSize: image.width, outSize: width, window: columns)
        let half = 1 << (precisionBits - 1)
        let inRow = image.width * 3
        let outWidth = columns.count
        var out = [UInt8](repeating: 0, count: rows.count * outWidth * 3)
        image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
        tx.weights.withUnsafeBufferPointer { weights in
            for (j, y) in rows.enumerated() {
                for x in 0..<outWidth {
                    var r = half, g = half, b = half
                    var s = y * inRow + tx.start[x] * 3
                    let w = x * tx.stride
                    for k in 0..<tx.count[x] {
                        let c = weights[w + k]
                        r += Int(src[s]) * c; g += Int(src[s + 1]) * c; b += Int(src[s + 2]) * c
                        s += 3
                    }
                    let d = (j * outWidth + x) * 3
                    dst[d] = clip8(r); dst[d + 1] = clip8(g); dst[d + 2] = clip8(b)
                }
            }
        }}}
        return out
    }

    /// `source` holds rows rowOffset… of the (horizontally resized) image, `width` pixels each.
    static func verticalPass(_ source: [UInt8], width: Int, taps ty: Taps, rowOffset: Int) -> [UInt8] {
        let height = ty.start.count
        let half = 1 << (precisionBits - 1)
        let rowLength = width * 3
        var out = [UInt8](repeating: 0, count: height * rowLength)
        var sums = [Int](repeating: 0, count: rowLength)
        source.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
        sums.withUnsafeMutableBufferPointer { acc in
            for y in 0..<height {
                acc.update(repeating: half)
                for k in 0..<ty.count[y] {
                    let c = ty.weights[y * ty.stride + k]
                    let row = (ty.start[y] - rowOffset + k) * rowLength
                    for i in 0..<rowLength { acc[i] += Int(src[row + i]) * c }
                }
                for i in 0..<rowLength { dst[y * rowLength + i] = clip8(acc[i]) }
            }
        }}}
        return out
    }
}

extension RGBImage {
    /// Resized to exactly width × height with Pillow's bicubic filter (see `BicubicResampler`).
    public func resizedBicubic(width: Int, height: Int) -> RGBImage {
        BicubicResampler.resize(self, width: width, height: height)
    }
}
