import Foundation
import Testing
@testable import Imaging

@Suite struct DecodeTests {
    /// The fixtures (scripts/make_samples.py) store a 24×16 picture with red, green, blue and
    /// yellow quadrants, transformed and tagged so that every viewer shows it upright.
    @Test(arguments: 1...8)
    func exifOrientationFixturesComeOutUpright(tag: Int) throws {
        let decoded = try ImageDecoder.decode(try TestImages.fixture("orientation-\(tag).jpg"))
        #expect(decoded.header.orientation.rawValue == tag)
        let image = decoded.image
        #expect(image.width == 24 && image.height == 16)
        #expect(TestImages.close(image[5, 3], (255, 0, 0)), "top-left should be red, got \(image[5, 3])")
        #expect(TestImages.close(image[18, 3], (0, 255, 0)), "top-right should be green, got \(image[18, 3])")
        #expect(TestImages.close(image[5, 12], (0, 0, 255)), "bottom-left should be blue, got \(image[5, 12])")
        #expect(TestImages.close(image[18, 12], (255, 255, 0)), "bottom-right should be yellow, got \(image[18, 12])")
    }

    @Test(arguments: [true, false])
    func exifWrittenByUsInEitherByteOrderIsRead(littleEndian: Bool) throws {
        let jpeg = try ImageEncoder.jpeg(TestImages.gradient(width: 40, height: 20), quality: 90)
        for tag in 1...8 {
            let tagged = TestImages.withEXIFOrientation(jpeg, tag, littleEndian: littleEndian)
            let decoded = try ImageDecoder.decode(tagged)
            #expect(decoded.header.orientation.rawValue == tag)
            #expect(decoded.header.width == 40 && decoded.header.height == 20)
            #expect(decoded.image.width == (tag >= 5 ? 20 : 40))
        }
    }

    @Test func pngEXIfChunkIsHonoured() throws {
        let png = try ImageEncoder.png(TestImages.gradient(width: 30, height: 10))
        let tiff: [UInt8] = [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]
        let tagged = Array(png[0..<33]) + TestImages.chunk("eXIf", tiff) + Array(png[33...])  // after IHDR
        let decoded = try ImageDecoder.decode(tagged)
        #expect(decoded.header.orientation == .rotated90Clockwise)
        #expect(decoded.image.width == 10 && decoded.image.height == 30)
    }

    @Test func malformedEXIFIsIgnoredNotFatal() throws {
        let jpeg = try ImageEncoder.jpeg(TestImages.gradient(width: 8, height: 8), quality: 90)
        var tagged = TestImages.withEXIFOrientation(jpeg, 6, littleEndian: false)
        // Point IFD0 far outside the segment.
        tagged[4 + 2 + 6 + 4] = 0x7F
        let decoded = try ImageDecoder.decode(tagged)
        #expect(decoded.header.orientation == .up)
        #expect(decoded.image.width == 8)
    }

    @Test func orientationTransformsMatchTheirDefinitions() {
        // 3×2 image with distinct pixels; check where the top-left stored pixel lands.
        var image = RGBImage(width: 3, height: 2, fill: (0, 0, 0))
        image[0, 0] = (255, 0, 0)
        let expected: [EXIFOrientation: (Int, Int)] = [
            .up: (0, 0), .mirrored: (2, 0), .rotated180: (2, 1), .flippedVertically: (0, 1),
            .transposed: (0, 0), .rotated90Clockwise: (1, 0), .transversed: (1, 2), .rotated90CounterClockwise: (0, 2),
        ]
        for (orientation, (x, y)) in expected {
            let out = orientation.apply(to: image)
            #expect(out.width == (orientation.swapsDimensions ? 2 : 3))
            #expect(out[x, y].r == 255, "\(orientation): red should be at (\(x), \(y))")
        }
    }

    @Test func grayJPEGBecomesGrayRGB() throws {
        let image = try ImageDecoder.decode(try TestImages.fixture("gray.jpg")).image
        #expect(image.width == 20 && image.height == 10)
        #expect(TestImages.close(image[10, 5], (128, 128, 128), tolerance: 3))
    }

    @Test func adobeCMYKJPEGBecomesRGB() throws {
        let image = try ImageDecoder.decode(try TestImages.fixture("cmyk-red.jpg")).image
        #expect(TestImages.close(image[10, 5], (255, 0, 0), tolerance: 10), "got \(image[10, 5])")
    }

    @Test func cmykConversionHandlesBothInkConventions() {
        let plain = JPEGCodec.cmykToRGB([0, 255, 255, 0], pixelCount: 1, inverted: false)
        #expect(plain == [255, 0, 0])
        let inverted = JPEGCodec.cmykToRGB([255, 0, 0, 255], pixelCount: 1, inverted: true)
        #expect(inverted == [255, 0, 0])
    }

    @Test func progressiveJPEGDecodes() throws {
        let image = try ImageDecoder.decode(try TestImages.fixture("progressive.jpg")).image
        #expect(TestImages.close(image[5, 3], (255, 0, 0)))
    }

    @Test func sixteenBitGrayPNGIsScaledToBytes() throws {
        let image = try ImageDecoder.decode(try TestImages.fixture("gray16.png")).image
        #expect(image.width == 32 && image.height == 8)
        #expect(image[0, 0].r == 0)
        #expect(image[31, 0].r >= 250)
        for x in 1..<32 { #expect(image[x, 4].r >= image[x - 1, 4].r, "ramp must not decrease") }
        #expect(image[16, 4].r == image[16, 4].g && image[16, 4].g == image[16, 4].b)
        // No gAMA chunk: sRGB like viewers assume, so 16-bit v becomes about v/257 (libpng's
        // own default would treat it as linear and give 189 here).
        #expect(abs(Int(image[16, 4].r) - 16 * 2114 / 257) <= 2, "got \(image[16, 4].r)")
    }

    @Test func grayAndPalettePNGs() throws {
        #expect(TestImages.close(try ImageDecoder.decode(try TestImages.fixture("gray8.png")).image[3, 3], (200, 200, 200), tolerance: 1))
        #expect(TestImages.close(try ImageDecoder.decode(try TestImages.fixture("palette-green.png")).image[3, 3], (0, 128, 0), tolerance: 1))
    }

    @Test func transparencyIsCompositedOnWhite() throws {
        let clear = try ImageDecoder.decode(try TestImages.fixture("gray-alpha-transparent.png")).image
        #expect(clear[0, 0] == (255, 255, 255))
        let half = try ImageDecoder.decode(try TestImages.fixture("rgba-half.png")).image
        #expect(half[2, 2] == (0, 0, 255))
        #expect(TestImages.close(half[12, 2], (127, 127, 127), tolerance: 2), "got \(half[12, 2])")
    }

    @Test func pngRoundTripIsLossless() throws {
        let image = TestImages.gradient(width: 37, height: 23)
        let back = try ImageDecoder.decode(try ImageEncoder.png(image)).image
        #expect(back == image)
    }

    @Test func jpegRoundTripIsClose() throws {
        let image = TestImages.gradient(width: 64, height: 48)
        let bytes = try ImageEncoder.jpeg(image, quality: 95)
        #expect(try ImageDecoder.header(bytes).format == .jpeg)
        let back = try ImageDecoder.decode(bytes).image
        var worst = 0
        for i in 0..<image.pixels.count { worst = max(worst, abs(Int(image.pixels[i]) - Int(back.pixels[i]))) }
        #expect(worst < 16)
        #expect(try ImageEncoder.jpeg(image, quality: 20).count < bytes.count)
    }

    @Test func floatFormIsMinusOneToOne() {
        let image = RGBImage(width: 2, height: 1, pixels: [0, 255, 128, 1, 2, 3])
        let floats = image.floatNHWC()
        #expect(floats.count == 6 && floats[0] == -1 && floats[1] == 1)
        #expect(RGBImage(floatNHWC: floats, width: 2, height: 1) == image)
    }
}
