import Foundation
@testable import Imaging

/// Helpers shared by the Imaging tests: fixture files and hand-made image bytes.
enum TestImages {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    /// A smooth, asymmetric test picture (gradients, so JPEG keeps it well).
    static func gradient(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = (UInt8(x * 255 / max(1, width - 1)), UInt8(y * 255 / max(1, height - 1)), 90)
            }
        }
        return image
    }

    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

    /// A PNG chunk with a correct CRC.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return be32(data.count) + typeBytes + data + be32(Int(crc32(typeBytes + data)))
    }

    /// A tiny, valid-looking PNG that declares width × height but holds almost no data: a
    /// decompression bomb, as far as the header goes.
    static func pngDeclaring(width: Int, height: Int) -> [UInt8] {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let ihdr = be32(width) + be32(height) + [8, 2, 0, 0, 0]  // 8-bit RGB
        // zlib stream of a few zero bytes; far too little for the declared size.
        let idat: [UInt8] = [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]
        return signature + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", [])
    }

    /// A real JPEG whose SOF header is patched to claim width × height (≤ 65535).
    static func jpegDeclaring(width: Int, height: Int) throws -> [UInt8] {
        var jpeg = try ImageEncoder.jpeg(gradient(width: 16, height: 16), quality: 80)
        for i in 0..<(jpeg.count - 9) where jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2) {
            jpeg[i + 5] = UInt8(height >> 8); jpeg[i + 6] = UInt8(height & 255)
            jpeg[i + 7] = UInt8(width >> 8); jpeg[i + 8] = UInt8(width & 255)
            return jpeg
        }
        fatalError("no SOF marker")
    }

    /// Inserts an APP1 Exif segment carrying `orientation` right after SOI.
    static func withEXIFOrientation(_ jpeg: [UInt8], _ orientation: Int, littleEndian: Bool) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { littleEndian ? [UInt8(v & 255), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 255)] }
        func u32(_ v: Int) -> [UInt8] { littleEndian ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF) }
        let tiff = (littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]) + u16(42) + u32(8)
            + u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0) + u32(0)
        let body: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let segment: [UInt8] = [0xFF, 0xE1, UInt8((body.count + 2) >> 8), UInt8((body.count + 2) & 255)] + body
        return Array(jpeg[0..<2]) + segment + Array(jpeg[2...])
    }

    static func close(_ a: (r: UInt8, g: UInt8, b: UInt8), _ b: (Int, Int, Int), tolerance: Int = 40) -> Bool {
        abs(Int(a.r) - b.0) <= tolerance && abs(Int(a.g) - b.1) <= tolerance && abs(Int(a.b) - b.2) <= tolerance
    }
}
