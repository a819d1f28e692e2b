import Foundation
import Testing
@testable import Imaging

/// Every kind of bad input gets its own typed error, checked before decoding where it can be.
@Suite struct BadImageTests {
    @Test func zeroBytes() {
        #expect(throws: ImageError.empty) { try ImageDecoder.decode([]) }
    }

    @Test func randomBytesAreNotAnImage() {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = 0x00  // never a JPEG/PNG signature
        #expect(throws: ImageError.notAnImage(detected: nil)) { try ImageDecoder.decode(bytes) }
    }

    @Test func otherFormatsAreNamed() {
        let text = Array("hello, these are my holiday notes\n".utf8)
        #expect(throws: ImageError.notAnImage(detected: "text")) { try ImageDecoder.decode(text) }
        let heic: [UInt8] = [0, 0, 0, 24] + Array("ftypheic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8)
        #expect(throws: ImageError.notAnImage(detected: "HEIC/HEIF (iPhone photo)")) { try ImageDecoder.decode(heic) }
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0]
        #expect(throws: ImageError.notAnImage(detected: "GIF")) { try ImageDecoder.decode(gif) }
    }

    @Test func truncatedJPEG() throws {
        let jpeg = try ImageEncoder.jpeg(TestImages.gradient(width: 64, height: 64), quality: 90)
        let cut = Array(jpeg.prefix(jpeg.count / 2))
        do { _ = try ImageDecoder.decode(cut); Issue.record("a cut JPEG decoded") } catch {
            guard case .truncated = error else { Issue.record("expected truncated, got \(error)"); return }
            #expect(error.description.hasPrefix("truncated"))
        }
        // Cut inside the header: still refused, never a crash.
        #expect(throws: ImageError.self) { try ImageDecoder.decode(Array(jpeg.prefix(40))) }
    }

    @Test func truncatedPNG() throws {
        let png = try ImageEncoder.png(TestImages.gradient(width: 64, height: 64))
        do { _ = try ImageDecoder.decode(Array(png.prefix(png.count / 2))); Issue.record("a cut PNG decoded") } catch {
            guard case .truncated = error else { Issue.record("expected truncated, got \(error)"); return }
        }
    }

    @Test func corruptPNGData() throws {
        var png = try ImageEncoder.png(TestImages.gradient(width: 32, height: 32))
        for i in 60..<min(png.count - 20, 90) { png[i] ^= 0x5A }  // inside IDAT: CRC and zlib break
        #expect(throws: ImageError.self) { try ImageDecoder.decode(png) }
    }

    @Test func hugeDeclaredPNGIsRefusedFromItsHeader() {
        let bomb = TestImages.pngDeclaring(width: 100_000, height: 100_000)
        #expect(bomb.count < 100)
        #expect(throws: ImageError.tooManyPixels(width: 100_000, height: 100_000, limit: 50_000_000)) {
            try ImageDecoder.decode(bomb)
        }
    }

    @Test func hugeDeclaredJPEGIsRefusedFromItsHeader() throws {
        let bomb = try TestImages.jpegDeclaring(width: 60_000, height: 60_000)
        #expect(throws: ImageError.tooManyPixels(width: 60_000, height: 60_000, limit: 1_000_000)) {
            try ImageDecoder.decode(bomb, limits: ImageLimits(maxPixels: 1_000_000))
        }
    }

    @Test func byteLimit() throws {
        let png = try ImageEncoder.png(TestImages.gradient(width: 32, height: 32))
        #expect(throws: ImageError.tooManyBytes(size: png.count, limit: 100)) {
            try ImageDecoder.decode(png, limits: ImageLimits(maxBytes: 100))
        }
    }

    /// A progressive JPEG is decoded scan by scan; a file with thousands of scans would burn
    /// CPU for minutes. The fixture has about ten: with a limit of 2 it must be refused.
    @Test func progressiveScanLimit() throws {
        let jpeg = try TestImages.fixture("progressive.jpg")
        #expect(throws: ImageError.unsupported("progressive JPEG with more than 2 progressive scans")) {
            try JPEGCodec.decode(jpeg, maxScans: 2)
        }
        #expect(try JPEGCodec.decode(jpeg).width == 24)
    }

    /// Damaged bytes anywhere: every outcome is an image or an ImageError, never a crash (the
    /// libjpeg longjmp stays in C, libpng's simplified API catches its own errors).
    @Test(arguments: [ImageFormat.jpeg, .png])
    func mutatedFilesNeverCrash(format: ImageFormat) throws {
        let image = TestImages.gradient(width: 48, height: 40)
        let good = format == .jpeg ? try ImageEncoder.jpeg(image, quality: 85) : try ImageEncoder.png(image)
        var rng = SplitMix(seed: 42)
        var refused = 0
        for _ in 0..<300 {
            var bad = good
            for _ in 0..<(1 + Int(rng.next() % 8)) {
                let at = 2 + Int(rng.next() % UInt64(bad.count - 2))
                bad[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            do {
                let decoded = try ImageDecoder.decode(bad, limits: ImageLimits(maxPixels: 1 << 22))
                #expect(decoded.image.pixels.count == decoded.image.width * decoded.image.height * 3)
            } catch { refused += 1 }
        }
        #expect(refused > 0)
    }

    @Test func reasonsAreSentences() {
        #expect(ImageError.tooManyPixels(width: 20000, height: 20000, limit: 50_000_000).description
            == "too large: 20000x20000 = 400000000 pixels, the limit is 50000000")
        #expect(ImageError.empty.description == "empty file (zero bytes)")
    }
}

/// A small deterministic generator, so that a failing mutation can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
