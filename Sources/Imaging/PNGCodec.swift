import CPNG

/// PNG through libpng's simplified API (png_image_*): it catches its own errors internally and
/// returns a status, so no longjmp reaches Swift. It converts 16-bit, gray, palette and
/// transparency for us; we ask for 8-bit RGBA and composite on white ourselves.
enum PNGCodec {
    static func header(_ data: [UInt8]) throws(ImageError) -> (width: Int, height: Int) {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBufferPointer { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        defer { png_image_free(&image) }
        guard ok != 0 else { throw classify(&image) }
        return (Int(image.width), Int(image.height))
    }

    /// Reads the PNG; call only after `header` passed the pixel limit.
    static func decode(_ data: [UInt8]) throws(ImageError) -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = data.withUnsafeBufferPointer { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw classify(&image) }
        // Without gAMA/sRGB chunks, libpng assumes 16-bit samples are linear and brightens
        // them on the way to 8 bits; viewers, browsers and PIL treat them as sRGB like 8-bit
        // ones. Follow the viewers: the user judged the photo by how it looked.
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)  // PNG_FORMAT_RGBA (a macro Swift does not import)
        let width = Int(image.width), height = Int(image.height)
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let finished = rgba.withUnsafeMutableBufferPointer {
            png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * 4), nil)
        }
        guard finished != 0 else { throw classify(&image) }
        return RGBImage(width: width, height: height, pixels: compositeOnWhite(rgba, pixelCount: width * height))
    }

    /// out = a·colour + (1−a)·white, per channel in the stored (sRGB) values, as image viewers
    /// and PIL's alpha_composite do.
    static func compositeOnWhite(_ rgba: [UInt8], pixelCount: Int) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        for i in 0..<pixelCount {
            let a = Int(rgba[4 * i + 3])
            for c in 0..<3 {
                rgb[3 * i + c] = UInt8((Int(rgba[4 * i + c]) * a + 255 * (255 - a) + 127) / 255)
            }
        }
        return rgb
    }

    static func encode(_ image: RGBImage) throws(ImageError) -> [UInt8] {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_FLAG_COLOR)  // PNG_FORMAT_RGB
        defer { png_image_free(&png) }
        var size = 0
        // First call measures, second writes.
        let measured = image.pixels.withUnsafeBufferPointer {
            png_image_write_to_memory(&png, nil, &size, 0, $0.baseAddress, Int32(image.width * 3), nil)
        }
        guard measured != 0, size > 0 else { throw .encodeFailed(message(&png)) }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBufferPointer { o in
            image.pixels.withUnsafeBufferPointer { p in
                png_image_write_to_memory(&png, o.baseAddress, &size, 0, p.baseAddress, Int32(image.width * 3), nil)
            }
        }
        guard written != 0 else { throw .encodeFailed(message(&png)) }
        return Array(out.prefix(size))
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// libpng's messages to our kinds: running out of data means a cut-short file.
    private static func classify(_ image: inout png_image) -> ImageError {
        let text = message(&image)
        let lower = text.lowercased()
        if lower.contains("not enough") || lower.contains("end of") || lower.contains("truncat")
            || lower.contains("read beyond") || lower.contains("unexpected end") || lower.contains("too short") {
            return .truncated(text)
        }
        if lower.contains("unsupported") || lower.contains("not supported") { return .unsupported(text) }
        if lower.contains("image too large") || lower.contains("exceeds") { return .unsupported(text) }
        return .corrupt(text)
    }
}
