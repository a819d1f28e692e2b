import Testing
@testable import Imaging

/// Pillow's bicubic resize on a small image with every value distinct, at sizes that shrink,
/// enlarge and mix both (one axis each way, one axis unchanged). Expected bytes from
/// Pillow 13 (`Image.fromarray(src).resize(size, Image.BICUBIC)`); the larger cases, on
/// photos at CLIP's 224, are in DiffusionTests/CLIPScoringTests.
@Suite struct BicubicResamplerTests {
    /// 5×3, value (53x + 97y + 31c) mod 256.
    static let source: RGBImage = {
        var pixels: [UInt8] = []
        for y in 0..<3 { for x in 0..<5 { for c in 0..<3 { pixels.append(UInt8((x * 53 + y * 97 + c * 31) % 256)) } } }
        return RGBImage(width: 5, height: 3, pixels: pixels)
    }()

    static let pillow: [(width: Int, height: Int, pixels: [UInt8])] = [
        (3, 2, [52, 87, 124, 123, 157, 136, 131, 161, 95, 191, 148, 82, 118, 107, 86, 82, 119, 156]),
        (2, 3, [45, 76, 115, 167, 198, 140, 143, 174, 144, 68, 99, 69, 179, 103, 45, 104, 128, 167]),
        (5, 6, [0, 22, 53, 44, 75, 106, 97, 128, 182, 173, 204, 235, 226, 255, 9, 16, 47, 84, 69, 106, 137, 128, 159,
                136, 127, 158, 189, 180, 211, 34, 69, 100, 148, 122, 170, 201, 192, 223, 38, 29, 60, 91, 82, 113, 87,
                125, 156, 130, 178, 152, 183, 174, 205, 20, 11, 42, 73, 64, 95, 143, 178, 209, 32, 231, 54, 85, 76,
                107, 84, 75, 106, 137, 128, 159, 196, 203, 234, 0, 255, 8, 39, 30, 61, 115, 106, 137, 168, 159, 190, 221]),
        (7, 4, [0, 23, 54, 21, 52, 82, 63, 94, 128, 101, 132, 176, 149, 180, 235, 195, 226, 137, 223, 254, 0, 52, 81,
                131, 79, 121, 172, 132, 178, 159, 178, 209, 62, 81, 112, 101, 68, 99, 99, 109, 140, 69, 137, 174, 105,
                172, 144, 144, 190, 142, 131, 150, 181, 34, 50, 84, 65, 40, 71, 122, 81, 112, 162, 196, 243, 0, 243,
                106, 17, 201, 8, 63, 36, 67, 111, 75, 115, 149, 130, 161, 191, 158, 189, 220]),
    ]

    @Test(arguments: 0..<4)
    func matchesPillow(case index: Int) {
        let expected = Self.pillow[index]
        let out = Self.source.resizedBicubic(width: expected.width, height: expected.height)
        #expect(out.width == expected.width && out.height == expected.height)
        #expect(out.pixels == expected.pixels, "\(expected.width)x\(expected.height)")
    }

    @Test func sameSizeIsTheImageItself() {
        #expect(Self.source.resizedBicubic(width: 5, height: 3) == Self.source)
    }

    @Test func flatImageStaysFlat() {
        let flat = RGBImage(width: 31, height: 17, fill: (3, 128, 254))
        for (w, h) in [(7, 5), (31, 40), (100, 9)] {
            let out = flat.resizedBicubic(width: w, height: h)
            #expect(out.pixels.enumerated().allSatisfy { $0.element == [3, 128, 254][$0.offset % 3] })
        }
    }
}

extension BicubicResamplerTests {
    /// Resizing only a window gives the window of the whole resize, whichever axes change.
    @Test func croppedResizeIsTheCropOfTheResize() {
        var pixels: [UInt8] = []
        for i in 0..<(41 * 29 * 3) { pixels.append(UInt8((i * 7919) % 251)) }
        let image = RGBImage(width: 41, height: 29, pixels: pixels)
        for (w, h, x, y, cw, ch) in [(60, 29, 7, 3, 20, 11), (41, 13, 5, 2, 30, 9), (17, 50, 0, 31, 17, 19), (41, 29, 40, 28, 1, 1)] {
            let whole = image.resizedBicubic(width: w, height: h).cropped(x: x, y: y, width: cw, height: ch)
            let window = BicubicResampler.resize(image, width: w, height: h, cropX: x, cropY: y, cropWidth: cw, cropHeight: ch)
            #expect(window == whole, "\(w)x\(h), keeping \(cw)x\(ch)+\(x)+\(y)")
        }
    }
}
