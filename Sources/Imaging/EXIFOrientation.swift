/// The EXIF Orientation tag (0x0112): how the stored pixels must be turned to show the scene
/// upright. Phones store the sensor's rows as they come and set this tag instead of rotating.
/// Values per the EXIF/TIFF specification; names say what a viewer does to the stored image.
public enum EXIFOrientation: Int, Sendable, Codable, CaseIterable {
    case up = 1                  // as stored
    case mirrored = 2            // flip left-right
    case rotated180 = 3
    case flippedVertically = 4   // flip top-bottom
    case transposed = 5          // mirror across the main diagonal (x↔y)
    case rotated90Clockwise = 6
    case transversed = 7         // mirror across the anti-diagonal
    case rotated90CounterClockwise = 8

    /// True when the upright image has width and height swapped.
    public var swapsDimensions: Bool { rawValue >= 5 }

    /// Returns the upright image.
    public func apply(to image: RGBImage) -> RGBImage {
        if self == .up { return image }
        let w = image.width, h = image.height
        let outW = swapsDimensions ? h : w, outH = swapsDimensions ? w : h
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        // Where output pixel (x, y) comes from in the stored image.
                        let (sx, sy): (Int, Int)
                        switch self {
                        case .up: (sx, sy) = (x, y)
                        case .mirrored: (sx, sy) = (w - 1 - x, y)
                        case .rotated180: (sx, sy) = (w - 1 - x, h - 1 - y)
                        case .flippedVertically: (sx, sy) = (x, h - 1 - y)
                        case .transposed: (sx, sy) = (y, x)
                        case .rotated90Clockwise: (sx, sy) = (y, h - 1 - x)
                        case .transversed: (sx, sy) = (w - 1 - y, h - 1 - x)
                        case .rotated90CounterClockwise: (sx, sy) = (w - 1 - y, x)
                        }
                        let s = (sy * w + sx) * 3, d = (y * outW + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}

/// Finds the orientation tag in a file's own bytes: the JPEG APP1 "Exif" segment or the PNG
/// eXIf chunk, then IFD0 of the TIFF structure inside. Every offset is checked against the
/// data: a malformed or hostile EXIF block yields `.up`, never a crash or a long loop.
public enum EXIFReader {
    public static func orientation(in data: [UInt8], format: ImageFormat) -> EXIFOrientation {
        let tiff: ArraySlice<UInt8>?
        switch format {
        case .jpeg: tiff = jpegExifTIFF(data)
        case .png: tiff = pngExifTIFF(data)
        }
        guard let tiff, let value = orientationTag(inTIFF: tiff) else { return .up }
        return EXIFOrientation(rawValue: value) ?? .up
    }

    private static func u16be(_ d: [UInt8], _ i: Int) -> Int { Int(d[i]) << 8 | Int(d[i + 1]) }

    /// Walks the JPEG marker segments before the image data (SOS) looking for APP1 "Exif\0\0".
    static func jpegExifTIFF(_ d: [UInt8]) -> ArraySlice<UInt8>? {
        var i = 2
        while i + 4 <= d.count {
            guard d[i] == 0xFF else { return nil }
            let marker = d[i + 1]
            if marker == 0xFF { i += 1; continue }          // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil } // image data or end: no EXIF before
            let length = u16be(d, i + 2)
            guard length >= 2, i + 2 + length <= d.count else { return nil }
            let body = (i + 4)..<(i + 2 + length)
            if marker == 0xE1, body.count > 6, Array(d[body.lowerBound..<(body.lowerBound + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return d[(body.lowerBound + 6)..<body.upperBound]
            }
            i += 2 + length
        }
        return nil
    }

    /// Walks PNG chunks up to the first IDAT looking for eXIf (PNG 1.5 extension).
    static func pngExifTIFF(_ d: [UInt8]) -> ArraySlice<UInt8>? {
        var i = 8
        while i + 8 <= d.count {
            let length = Int(d[i]) << 24 | Int(d[i + 1]) << 16 | Int(d[i + 2]) << 8 | Int(d[i + 3])
            let type = String(decoding: d[(i + 4)..<(i + 8)], as: UTF8.self)
            guard length >= 0, length <= d.count - i - 12 else { return nil }
            if type == "eXIf" { return d[(i + 8)..<(i + 8 + length)] }
            if type == "IDAT" || type == "IEND" { return nil }
            i += 12 + length
        }
        return nil
    }

    /// Reads tag 0x0112 from IFD0 of a TIFF structure (either byte order).
    static func orientationTag(inTIFF tiff: ArraySlice<UInt8>) -> Int? {
        let t = Array(tiff)
        guard t.count >= 8 else { return nil }
        let little: Bool
        if t[0] == 0x49 && t[1] == 0x49 { little = true } else if t[0] == 0x4D && t[1] == 0x4D { little = false } else { return nil }
        func u16(_ i: Int) -> Int? {
            guard i >= 0, i + 2 <= t.count else { return nil }
            return little ? Int(t[i]) | Int(t[i + 1]) << 8 : Int(t[i]) << 8 | Int(t[i + 1])
        }
        func u32(_ i: Int) -> Int? {
            guard let a = u16(i), let b = u16(i + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for entry in 0..<min(count, 1000) {
            let e = ifd + 2 + entry * 12
            guard let tag = u16(e), let type = u16(e + 2) else { return nil }
            if tag == 0x0112 {
                // SHORT (3) is what the spec says; some writers use LONG (4).
                if type == 3 { return u16(e + 8) }
                if type == 4 { return u32(e + 8) }
                return nil
            }
        }
        return nil
    }
}
