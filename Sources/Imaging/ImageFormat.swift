/// The formats dropbooth reads, recognised by their first bytes — never by the file name,
/// which anyone can get wrong (an iPhone HEIC renamed .jpg, a web page saved as .png).
public enum ImageFormat: String, Sendable, Codable {
    case jpeg, png

    /// Recognises JPEG and PNG by their signatures; otherwise says what the bytes look like.
    public static func sniff<Bytes: Collection<UInt8>>(_ data: Bytes) -> Result<ImageFormat, ImageError> {
        let head = Array(data.prefix(32))
        if head.isEmpty { return .failure(.empty) }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .success(.jpeg) }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .success(.png) }
        return .failure(.notAnImage(detected: describeOther(head)))
    }

    /// Names common non-JPEG/PNG formats, so the user knows what to convert.
    static func describeOther(_ head: [UInt8]) -> String? {
        func ascii(_ range: Range<Int>) -> String? {
            guard head.count >= range.upperBound else { return nil }
            return String(decoding: head[range], as: UTF8.self)
        }
        if head.starts(with: Array("GIF8".utf8)) { return "GIF" }
        if head.starts(with: Array("BM".utf8)) && head.count >= 14 { return "BMP" }
        if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return "TIFF or camera RAW" }
        if ascii(0..<4) == "RIFF" && ascii(8..<12) == "WEBP" { return "WebP" }
        if ascii(4..<8) == "ftyp", let brand = ascii(8..<12) {
            if ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"].contains(brand) { return "HEIC/HEIF (iPhone photo)" }
            if brand.hasPrefix("avi") { return "AVIF" }
            return "a video or ISO media file"
        }
        if head.starts(with: [0xFF, 0xD8]) { return "a damaged JPEG" }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "a damaged PNG" }
        if head.starts(with: Array("%PDF".utf8)) { return "PDF" }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return "a ZIP archive" }
        if head.starts(with: [0x1F, 0x8B]) { return "a gzip archive" }
        // Printable ASCII/UTF-8 with whitespace: a text file (HTML, a note, a caption).
        if let text = String(validating: head, as: UTF8.self),
           text.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\n" || $0 == "\r" || $0 == "\t" }) {
            return text.lowercased().contains("<html") || text.lowercased().contains("<!doctype") ? "HTML" : "text"
        }
        return nil
    }
}
