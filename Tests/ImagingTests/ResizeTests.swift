import Testing
@testable import Imaging

@Suite struct ResizeTests {
    @Test func shapes() {
        let image = TestImages.gradient(width: 640, height: 480)
        #expect(image.resized(width: 100, height: 50).width == 100)
        let short = image.resized(shorterSide: 240)
        #expect(short.width == 320 && short.height == 240)
        let tall = TestImages.gradient(width: 300, height: 500).resized(shorterSide: 512)
        #expect(tall.width == 512 && tall.height == 853)
        #expect(image.centerCroppedToSquare().width == 480)
        let crop = image.centerCropped(width: 100, height: 80)
        #expect(crop.width == 100 && crop.height == 80)
        #expect(crop[0, 0] == image[270, 200])
        let fit = image.resized(fittingIn: 100, 100)
        #expect(fit.width == 100 && fit.height == 75)
    }

    @Test func flatImageStaysFlatAtAnyScale() {
        let flat = RGBImage(width: 97, height: 61, fill: (10, 200, 77))
        for (w, h) in [(13, 9), (97, 61), (300, 200), (40, 150)] {
            let out = flat.resized(width: w, height: h)
            #expect(out.pixels.enumerated().allSatisfy { $0.element == [10, 200, 77][$0.offset % 3] })
        }
    }

    /// A one-pixel checkerboard shrunk 8× must become mid-grey: an antialiased filter averages
    /// every source pixel; point sampling would give pure black or white (aliasing).
    @Test func downscaleIsAntialiased() {
        var board = RGBImage(width: 256, height: 256, fill: (0, 0, 0))
        for y in 0..<256 { for x in 0..<256 where (x + y) % 2 == 0 { board[x, y] = (255, 255, 255) } }
        let small = board.resized(width: 32, height: 32)
        for y in 2..<30 { for x in 2..<30 { #expect(abs(Int(small[x, y].r) - 128) <= 3) } }
    }

    @Test func flipMirrors() {
        let image = TestImages.gradient(width: 5, height: 3)
        let flipped = image.flippedHorizontally()
        #expect(flipped[0, 1] == image[4, 1] && flipped[4, 2] == image[0, 2])
        #expect(flipped.flippedHorizontally() == image)
    }

    @Test func windowedResizeEqualsResizeThenCrop() {
        let image = TestImages.gradient(width: 173, height: 91)
        for (w, h, x, y, cw, ch) in [(64, 40, 10, 5, 30, 20), (300, 160, 100, 0, 64, 160), (64, 40, 0, 0, 64, 40)] {
            let full = image.resized(width: w, height: h).cropped(x: x, y: y, width: cw, height: ch)
            let window = Resampler.resize(image, width: w, height: h, cropX: x, cropY: y, cropWidth: cw, cropHeight: ch)
            #expect(window == full)
        }
    }

    /// A 20000×1 "image" passes any pixel limit, but its short side scaled to 512 would make
    /// a 10-gigapixel intermediate; the transform only ever computes the kept square.
    @Test func extremeAspectRatioStaysCheap() {
        let line = RGBImage(width: 20000, height: 1, fill: (9, 99, 199))
        let out = TrainingTransform(resolution: 64).apply(line)
        #expect(out.width == 64 && out.height == 64 && out[10, 10] == (9, 99, 199))
    }

    @Test func trainingTransformGivesASquareOfTheResolution() {
        let transform = TrainingTransform(resolution: 64)
        for (w, h) in [(640, 480), (480, 640), (64, 64), (30, 20), (1000, 64)] {
            let out = transform.apply(TestImages.gradient(width: w, height: h))
            #expect(out.width == 64 && out.height == 64)
        }
        // Random placement reaches both edges of the free space; centre mode ignores it.
        let wide = TestImages.gradient(width: 256, height: 64)
        let random = TrainingTransform(resolution: 64, centerCrop: false)
        #expect(random.apply(wide, placement: .fraction(x: 0, y: 0)) == wide.cropped(x: 0, y: 0, width: 64, height: 64))
        #expect(random.apply(wide, placement: .fraction(x: 1, y: 0)) == wide.cropped(x: 192, y: 0, width: 64, height: 64))
        #expect(transform.apply(wide, placement: .fraction(x: 0, y: 0)) == wide.cropped(x: 96, y: 0, width: 64, height: 64))
        #expect(transform.apply(wide, flip: true) == wide.cropped(x: 96, y: 0, width: 64, height: 64).flippedHorizontally())
    }
}
