/// Limits checked before any pixel is decoded: a file's size before it is read, and its
/// width × height from the header (a 50 KB PNG can declare 100000×100000 pixels).
public struct ImageLimits: Sendable, Equatable {
    public var maxBytes: Int
    public var maxPixels: Int
    public init(maxBytes: Int = 64 << 20, maxPixels: Int = 50_000_000) {
        self.maxBytes = maxBytes; self.maxPixels = maxPixels
    }
}

/// What the header says, without decoding.
public struct ImageHeader: Sendable, Equatable {
    public var format: ImageFormat
    /// As stored (before EXIF orientation).
    public var width: Int
    public var height: Int
    public var orientation: EXIFOrientation
}

/// A decoded image, upright, with what is known about how it was stored.
public struct DecodedImage: Sendable {
    /// Upright (EXIF orientation applied), 8-bit RGB, transparency composited on white.
    public var image: RGBImage
    public var header: ImageHeader
}

/// The one way dropbooth turns file bytes into pixels (preflight and training both use it).
public enum ImageDecoder {
    /// Identifies the format by magic bytes and reads dimensions and orientation only.
    public static func header(_ data: [UInt8]) throws(ImageError) -> ImageHeader {
        let format = try ImageFormat.sniff(data).get()
        let size = format == .jpeg ? try JPEGCodec.header(data) : try PNGCodec.header(data)
        guard size.width > 0, size.height > 0 else { throw .corrupt("zero width or height") }
        return ImageHeader(format: format, width: size.width, height: size.height,
                           orientation: EXIFReader.orientation(in: data, format: format))
    }

    /// Checks the limits, then decodes and turns the image upright.
    public static func decode(_ data: [UInt8], limits: ImageLimits = ImageLimits()) throws(ImageError) -> DecodedImage {
        if data.isEmpty { throw .empty }
        if data.count > limits.maxBytes { throw .tooManyBytes(size: data.count, limit: limits.maxBytes) }
        let header = try header(data)
        if header.width.multipliedReportingOverflow(by: header.height).partialValue > limits.maxPixels
            || header.width > limits.maxPixels || header.height > limits.maxPixels {
            throw .tooManyPixels(width: header.width, height: header.height, limit: limits.maxPixels)
        }
        let stored = header.format == .jpeg ? try JPEGCodec.decode(data) : try PNGCodec.decode(data)
        return DecodedImage(image: header.orientation.apply(to: stored), header: header)
    }
}

/// Turns pixels into file bytes.
public enum ImageEncoder {
    public static func png(_ image: RGBImage) throws(ImageError) -> [UInt8] { try PNGCodec.encode(image) }
    /// `quality` 1...100 (libjpeg's scale; 90 looks clean, 75 is libjpeg's default).
    public static func jpeg(_ image: RGBImage, quality: Int = 90) throws(ImageError) -> [UInt8] {
        try JPEGCodec.encode(image, quality: quality)
    }
}
