import Testing
@testable import Imaging

@Suite struct TextAndGridTests {
    @Test func textDrawsDarkPixelsWhereItIs() throws {
        let font = try Font(pixelSize: 16)
        var image = RGBImage(width: 200, height: 40)
        font.draw("Hello, Ωορλδ", on: &image, x: 4, baseline: 24)
        let dark = stride(from: 0, to: image.pixels.count, by: 3).filter { image.pixels[$0] < 128 }.count
        #expect(dark > 50)
        // Nothing drawn right of the measured width.
        let end = 4 + font.width(of: "Hello, Ωορλδ") + 2
        #expect(end < 200)
        for y in 0..<40 { for x in end..<200 { #expect(image[x, y] == (255, 255, 255)) } }
    }

    @Test func wrapAndElide() throws {
        let font = try Font(pixelSize: 14)
        let text = "a photo of sks toy on a wooden kitchen table in the morning light"
        let lines = font.wrap(text, width: 120)
        #expect(lines.count > 2)
        #expect(lines.allSatisfy { font.width(of: $0) <= 120 })
        #expect(lines.joined(separator: " ") == text)
        let cut = font.wrap(text, width: 120, maxLines: 2)
        #expect(cut.count == 2 && cut[1].hasSuffix("…") && font.width(of: cut[1]) <= 120)
        let long = font.wrap("IMG_20240101_123456789_HDR_PORTRAIT.jpg", width: 80)
        #expect(long.count > 1 && long.allSatisfy { font.width(of: $0) <= 80 })
        #expect(font.wrap("one\ntwo", width: 500) == ["one", "two"])
    }

    @Test func missingFontIsAClearError() {
        #expect(throws: FontError.missing(path: "/nonexistent/font.ttf")) { try Font(path: "/nonexistent/font.ttf") }
        #expect(FontError.missing(path: "/x.ttf").description.contains("fonts-dejavu-core"))
    }

    @Test func gridHasTheDocumentedSize() throws {
        let tile = ImageGrid.Tile(image: TestImages.gradient(width: 64, height: 64), caption: "tile")
        var grid = ImageGrid(tileWidth: 64, tileHeight: 64, columns: 3)
        let font = try Font(pixelSize: grid.fontSize)
        let plain = try grid.render(Array(repeating: tile, count: 5))
        let p = grid.padding
        let caption = font.lineHeight + p / 2
        #expect(plain.width == p + 3 * (64 + p))
        #expect(plain.height == p + 2 * (64 + caption + p))
        // The first tile is pasted unchanged at (p, p); the empty sixth cell stays white.
        #expect(plain[p + 10, p + 10] == tile.image[10, 10])
        #expect(plain[p + 2 * (64 + p) + 30, p + (64 + caption + p) + 30] == (255, 255, 255))
        // Caption pixels under the first tile.
        var inked = false
        for y in (p + 64)..<(p + 64 + caption) { for x in p..<(p + 64) where plain[x, y].r < 128 { inked = true } }
        #expect(inked)

        grid.columnHeaders = ["base", "LoRA", "x"]  // each fits on one line of 64 px
        grid.rowLabels = ["prompt one", "prompt two"]
        let labelled = try grid.render(Array(repeating: tile, count: 6))
        #expect(labelled.width == p + grid.rowLabelWidth + p + 3 * (64 + p))
        #expect(labelled.height == p + font.lineHeight + p / 2 + 2 * (64 + caption + p))
    }

    @Test func multiLineCaptionsMakeRoom() throws {
        var grid = ImageGrid(tileWidth: 64, tileHeight: 64, columns: 2)
        grid.captionLines = 3
        let font = try Font(pixelSize: grid.fontSize)
        let tiles = [ImageGrid.Tile(image: TestImages.gradient(width: 64, height: 64), caption: "line one\nline two\nline three\nfour")]
        let sheet = try grid.render(tiles)
        #expect(sheet.height == grid.padding + 64 + 3 * font.lineHeight + grid.padding / 2 + grid.padding)
    }
}
