/// A sheet of equal tiles on white, each with a caption under it, optionally with column
/// headers above and row labels on the left (for "base model | adapter" comparisons).
/// Used for preflight contact sheets and for sample grids.
///
/// Layout, in pixels (p = padding):
///
///   width  = p + labelWidth + columns × (tileWidth + p)
///   height = p + headerHeight + rows × (tileHeight + captionHeight + p)
///
/// where captionHeight = (most caption lines any tile needs, at most `captionLines`) × line
/// height + p/2, headerHeight = header lines × line height + p/2 (0 without headers), and
/// labelWidth = `rowLabelWidth` + p (0 without labels). Tiles of another size are fitted
/// into the tile box, centred, keeping their aspect ratio.
public struct ImageGrid {
    public struct Tile {
        public var image: RGBImage
        public var caption: String
        public init(image: RGBImage, caption: String = "") { self.image = image; self.caption = caption }
    }

    public var tileWidth: Int
    public var tileHeight: Int
    public var columns: Int
    public var padding: Int = 8
    /// Captions wrap to at most this many lines; the last shown line ends in "…" if cut.
    public var captionLines: Int = 2
    public var columnHeaders: [String] = []
    public var rowLabels: [String] = []
    public var rowLabelWidth: Int = 120
    public var fontSize: Int = 13
    public var fontPath: String = Font.defaultPath

    public init(tileWidth: Int, tileHeight: Int, columns: Int) {
        precondition(tileWidth > 0 && tileHeight > 0 && columns > 0, "grid \(columns) columns of \(tileWidth)x\(tileHeight)")
        self.tileWidth = tileWidth; self.tileHeight = tileHeight; self.columns = columns
    }

    /// Renders tiles left to right, top to bottom; a nil tile leaves its cell empty.
    public func render(_ tiles: [Tile?]) throws(FontError) -> RGBImage {
        let font = try Font(path: fontPath, pixelSize: fontSize)
        let rows = max(1, (tiles.count + columns - 1) / columns, rowLabels.count)
        let p = padding
        let neededCaption = tiles.compactMap { $0 }.map {
            $0.caption.isEmpty ? 0 : font.wrap($0.caption, width: tileWidth, maxLines: captionLines).count
        }.max() ?? 0
        let captionHeight = neededCaption > 0 ? neededCaption * font.lineHeight + p / 2 : 0
        let headerLines = columnHeaders.map { font.wrap($0, width: tileWidth, maxLines: 2).count }.max() ?? 0
        let headerHeight = headerLines > 0 ? headerLines * font.lineHeight + p / 2 : 0
        let labelWidth = rowLabels.isEmpty ? 0 : rowLabelWidth + p
        let cellHeight = tileHeight + captionHeight + p

        var sheet = RGBImage(width: p + labelWidth + columns * (tileWidth + p),
                             height: p + headerHeight + rows * cellHeight)
        for (c, header) in columnHeaders.prefix(columns).enumerated() {
            font.drawWrapped(header, on: &sheet, x: p + labelWidth + c * (tileWidth + p), y: p,
                             width: tileWidth, maxLines: 2)
        }
        for (r, label) in rowLabels.prefix(rows).enumerated() {
            let maxLines = max(1, tileHeight / font.lineHeight)
            let lines = font.wrap(label, width: rowLabelWidth, maxLines: maxLines)
            let top = p + headerHeight + r * cellHeight + (tileHeight - lines.count * font.lineHeight) / 2
            font.drawWrapped(label, on: &sheet, x: p, y: top, width: rowLabelWidth, maxLines: maxLines, alignment: .left)
        }
        for (i, tile) in tiles.enumerated() {
            guard let tile else { continue }
            let x = p + labelWidth + (i % columns) * (tileWidth + p)
            let y = p + headerHeight + (i / columns) * cellHeight
            let fitted = (tile.image.width == tileWidth && tile.image.height == tileHeight)
                ? tile.image : tile.image.resized(fittingIn: tileWidth, tileHeight)
            sheet.paste(fitted, x: x + (tileWidth - fitted.width) / 2, y: y + (tileHeight - fitted.height) / 2)
            if !tile.caption.isEmpty {
                font.drawWrapped(tile.caption, on: &sheet, x: x, y: y + tileHeight + p / 2,
                                 width: tileWidth, maxLines: captionLines, color: (40, 40, 40))
            }
        }
        return sheet
    }
}
