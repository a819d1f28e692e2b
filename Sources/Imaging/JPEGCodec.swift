import CJPEGShim

/// JPEG through libjpeg(-turbo), via the setjmp shim (see Sources/CJPEGShim).
enum JPEGCodec {
    /// Progressive scans allowed before a file is refused (cameras and encoders write ~10).
    static let maxProgressiveScans: Int32 = 300

    static func header(_ data: [UInt8]) throws(ImageError) -> (width: Int, height: Int) {
        let info = try readHeader(data)
        return (Int(info.width), Int(info.height))
    }

    private static func readHeader(_ data: [UInt8]) throws(ImageError) -> db_jpeg_info {
        var info = db_jpeg_info()
        let status = data.withUnsafeBufferPointer { db_jpeg_read_header($0.baseAddress, $0.count, &info) }
        try check(status, &info)
        return info
    }

    /// Decodes to RGB: gray is replicated, CMYK/YCCK converted (Adobe-inverted when marked).
    static func decode(_ data: [UInt8], maxScans: Int32 = maxProgressiveScans) throws(ImageError) -> RGBImage {
        let probe = try readHeader(data)
        let width = Int(probe.width), height = Int(probe.height), components = Int(probe.output_components)
        var raw = [UInt8](repeating: 0, count: width * height * components)
        var info = db_jpeg_info()
        let status = data.withUnsafeBufferPointer { d in
            raw.withUnsafeMutableBufferPointer { o in
                db_jpeg_decode(d.baseAddress, d.count, o.baseAddress, o.count, maxScans, &info)
            }
        }
        try check(status, &info)
        switch components {
        case 3:
            return RGBImage(width: width, height: height, pixels: raw)
        case 1:
            var rgb = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) { let v = raw[i]; rgb[3 * i] = v; rgb[3 * i + 1] = v; rgb[3 * i + 2] = v }
            return RGBImage(width: width, height: height, pixels: rgb)
        default:
            return RGBImage(width: width, height: height,
                            pixels: cmykToRGB(raw, pixelCount: width * height, inverted: info.adobe_inverted != 0))
        }
    }

    /// The naive CMYK→RGB that viewers use without a colour profile: R = (1−C)(1−K), etc.
    /// Photoshop (marked by an Adobe APP14 segment) stores the inks inverted, so there the
    /// stored byte already is 1−C and R = C·K.
    static func cmykToRGB(_ cmyk: [UInt8], pixelCount: Int, inverted: Bool) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        for i in 0..<pixelCount {
            var c = Int(cmyk[4 * i]), m = Int(cmyk[4 * i + 1]), y = Int(cmyk[4 * i + 2]), k = Int(cmyk[4 * i + 3])
            if !inverted { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k }
            rgb[3 * i] = UInt8((c * k + 127) / 255)
            rgb[3 * i + 1] = UInt8((m * k + 127) / 255)
            rgb[3 * i + 2] = UInt8((y * k + 127) / 255)
        }
        return rgb
    }

    static func encode(_ image: RGBImage, quality: Int) throws(ImageError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = image.pixels.withUnsafeBufferPointer { p in
            message.withUnsafeMutableBufferPointer { m in
                db_jpeg_encode_rgb(p.baseAddress, Int32(image.width), Int32(image.height),
                                   Int32(min(100, max(1, quality))), &out, &size, m.baseAddress)
            }
        }
        defer { db_jpeg_free(out) }
        guard status == DB_JPEG_OK, let out else {
            throw .encodeFailed(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    private static func check(_ status: db_jpeg_status, _ info: inout db_jpeg_info) throws(ImageError) {
        if status == DB_JPEG_OK { return }
        let message = withUnsafeBytes(of: &info.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch status {
        case DB_JPEG_TRUNCATED: throw .truncated(message)
        case DB_JPEG_TOO_COMPLEX: throw .unsupported("progressive JPEG with \(message)")
        default:
            if message.contains("Unsupported") || message.contains("not supported") { throw .unsupported(message) }
            throw .corrupt(message)
        }
    }
}
