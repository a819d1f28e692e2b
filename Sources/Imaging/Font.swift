import CFreeType
#if canImport(Glibc)
import Glibc
#endif

/// Why text cannot be drawn.
public enum FontError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String, code: Int32)
    public var description: String {
        switch self {
        case .missing(let path):
            return "font not found at \(path): install the Debian package fonts-dejavu-core (scripts/setup.sh does)"
        case .unreadable(let path, let code): return "FreeType cannot load the font \(path) (error \(code))"
        }
    }
}

/// A TrueType face at one pixel size, rendered with FreeType into 8-bit coverage masks and
/// blended onto RGB images. Not thread-safe (FreeType faces are not): one per grid or sheet.
public final class Font {
    /// DejaVu Sans from fonts-dejavu-core: covers Latin, Greek, Cyrillic and many symbols,
    /// so file names and prompts in most languages draw as text, not boxes.
    public static let defaultPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

    private var library: FT_Library?
    private var face: FT_Face?
    public let pixelSize: Int
    /// Pixels from the baseline up to the top of the tallest glyphs, and the line spacing.
    public let ascender: Int
    public let lineHeight: Int

    struct Glyph {
        var width: Int, rows: Int, left: Int, top: Int, advance: Int
        var coverage: [UInt8]
    }
    private var glyphs: [UInt32: Glyph] = [:]

    public init(path: String = Font.defaultPath, pixelSize: Int = 14) throws(FontError) {
        if !Font.isRegularFile(path) { throw .missing(path: path) }
        self.pixelSize = pixelSize
        var lib: FT_Library?
        var error = FT_Init_FreeType(&lib)
        guard error == 0, let lib else { throw .unreadable(path: path, code: error) }
        library = lib
        var f: FT_Face?
        error = FT_New_Face(lib, path, 0, &f)
        guard error == 0, let f else { FT_Done_FreeType(lib); library = nil; throw .unreadable(path: path, code: error) }
        face = f
        FT_Set_Pixel_Sizes(f, 0, FT_UInt(pixelSize))
        let metrics = f.pointee.size.pointee.metrics
        ascender = Int((metrics.ascender + 63) >> 6)
        lineHeight = Int((metrics.height + 63) >> 6)
    }

    deinit {
        if let face { FT_Done_Face(face) }
        if let library { FT_Done_FreeType(library) }
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The glyph for a character, rendered once and kept.
    private func glyph(_ scalar: Unicode.Scalar) -> Glyph? {
        if let g = glyphs[scalar.value] { return g }
        guard let face, FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_RENDER)) == 0 else { return nil }
        let slot = face.pointee.glyph.pointee
        let bitmap = slot.bitmap
        let width = Int(bitmap.width), rows = Int(bitmap.rows), pitch = Int(bitmap.pitch)
        var coverage = [UInt8](repeating: 0, count: width * rows)
        if let buffer = bitmap.buffer, pitch >= width {
            for r in 0..<rows { for c in 0..<width { coverage[r * width + c] = buffer[r * pitch + c] } }
        }
        let g = Glyph(width: width, rows: rows, left: Int(slot.bitmap_left), top: Int(slot.bitmap_top),
                      advance: Int((slot.advance.x + 32) >> 6), coverage: coverage)
        glyphs[scalar.value] = g
        return g
    }

    /// Width in pixels of `text` on one line.
    public func width(of text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + (glyph($1)?.advance ?? 0) }
    }

    /// Draws one line with its baseline at `baseline`, blending `color` by glyph coverage.
    public func draw(_ text: String, on image: inout RGBImage, x: Int, baseline: Int,
                     color: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var penX = x
        for scalar in text.unicodeScalars {
            guard let g = glyph(scalar) else { continue }
            let x0 = penX + g.left, y0 = baseline - g.top
            for r in 0..<g.rows {
                let y = y0 + r
                guard y >= 0 && y < image.height else { continue }
                for c in 0..<g.width {
                    let px = x0 + c
                    let a = Int(g.coverage[r * g.width + c])
                    guard a > 0, px >= 0, px < image.width else { continue }
                    let i = (y * image.width + px) * 3
                    image.pixels[i] = UInt8((Int(color.0) * a + Int(image.pixels[i]) * (255 - a) + 127) / 255)
                    image.pixels[i + 1] = UInt8((Int(color.1) * a + Int(image.pixels[i + 1]) * (255 - a) + 127) / 255)
                    image.pixels[i + 2] = UInt8((Int(color.2) * a + Int(image.pixels[i + 2]) * (255 - a) + 127) / 255)
                }
            }
            penX += g.advance
        }
    }

    /// Breaks `text` into lines no wider than `width`: at spaces where possible, inside a word
    /// when one word is too wide (long file names), at every newline. When more than
    /// `maxLines` result, the last kept line ends in "…".
    public func wrap(_ text: String, width: Int, maxLines: Int = .max) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ", omittingEmptySubsequences: true) {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if self.width(of: candidate) <= width { line = candidate; continue }
                if !line.isEmpty { lines.append(line); line = "" }
                // The word alone may still be too wide: cut it by characters.
                for ch in word {
                    if !line.isEmpty && self.width(of: line + String(ch)) > width { lines.append(line); line = "" }
                    line.append(ch)
                }
            }
            lines.append(line)
        }
        guard lines.count > maxLines, maxLines > 0 else { return lines }
        var last = lines[maxLines - 1]
        while !last.isEmpty && self.width(of: last + "…") > width { last.removeLast() }
        return Array(lines.prefix(maxLines - 1)) + [last + "…"]
    }

    public enum Alignment: Sendable { case left, center }

    /// Wraps and draws `text` in a box whose top-left is (x, y); returns the lines drawn.
    @discardableResult
    public func drawWrapped(_ text: String, on image: inout RGBImage, x: Int, y: Int, width: Int,
                            maxLines: Int = .max, alignment: Alignment = .center,
                            color: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> Int {
        let lines = wrap(text, width: width, maxLines: maxLines)
        for (i, line) in lines.enumerated() {
            let lineX = alignment == .center ? x + (width - self.width(of: line)) / 2 : x
            draw(line, on: &image, x: lineX, baseline: y + i * lineHeight + ascender, color: color)
        }
        return lines.count
    }
}
