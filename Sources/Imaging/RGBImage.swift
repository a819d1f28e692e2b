/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B. The one pixel format the
/// rest of dropbooth handles: decoders convert into it, encoders and the model read from it.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// width × height × 3 bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// A solid image (white unless told otherwise).
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        precondition(width > 0 && height > 0, "RGBImage: \(width)x\(height)")
        self.width = width; self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: p.count, by: 3) { p[i] = fill.0; p[i + 1] = fill.1; p[i + 2] = fill.2 }
        pixels = p
    }

    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        get { let i = (y * width + x) * 3; return (pixels[i], pixels[i + 1], pixels[i + 2]) }
        set { let i = (y * width + x) * 3; pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b }
    }

    /// Copies `source` with its top-left corner at (x, y), clipped to this image.
    public mutating func paste(_ source: RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), x1 = min(width, x + source.width)
        let y0 = max(0, y), y1 = min(height, y + source.height)
        guard x0 < x1 && y0 < y1 else { return }
        let rowBytes = (x1 - x0) * 3
        for row in y0..<y1 {
            let src = ((row - y) * source.width + (x0 - x)) * 3
            let dst = (row * width + x0) * 3
            pixels.withUnsafeMutableBufferPointer { d in
                source.pixels.withUnsafeBufferPointer { s in
                    (d.baseAddress! + dst).update(from: s.baseAddress! + src, count: rowBytes)
                }
            }
        }
    }

    /// Fills a rectangle, clipped to this image.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color: (UInt8, UInt8, UInt8)) {
        for row in max(0, y)..<min(height, y + h) where max(0, x) < min(width, x + w) {
            for col in max(0, x)..<min(width, x + w) { self[col, row] = (color.0, color.1, color.2) }
        }
    }
}

// MARK: - The float form the model takes

extension RGBImage {
    /// The image as the VAE encoder takes it: float32, shape [height, width, 3] (NHWC for one
    /// image), values in [-1, 1] (byte / 127.5 − 1).
    public func floatNHWC() -> [Float] {
        pixels.map { Float($0) / 127.5 - 1 }
    }

    /// The inverse of `floatNHWC`, for decoded latents: values are clamped to [-1, 1] and
    /// rounded to the nearest byte.
    public init(floatNHWC values: [Float], width: Int, height: Int) {
        precondition(values.count == width * height * 3, "RGBImage: \(values.count) floats for \(width)x\(height)x3")
        self.init(width: width, height: height, pixels: values.map { v in
            let clamped = v.isNaN ? -1 : min(1, max(-1, v))
            return UInt8(((clamped + 1) * 127.5).rounded())
        })
    }
}
