import Foundation

/// Putting text that came from users (file names, captions, the recipe, error messages) into
/// HTML pages the service writes: escaped everywhere, so that a caption like
/// `<script>` shows as text on the share instead of running in the reader's browser.
public enum HTMLText {
    /// Escapes the five characters that can end text or an attribute value.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Percent-encodes a relative path so that names with spaces, '#' or '?' still link to the
    /// file they name.
    public static func percentEncodedPath(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "#?"))) ?? path
    }

    /// An attribute-ready link to a file in the same folder tree as the page. "./" in front
    /// keeps a name like "javascript:x" a relative path rather than a URL scheme.
    public static func relativeLink(_ path: String) -> String {
        var relative = path
        while relative.hasPrefix("/") { relative.removeFirst() }
        return escape("./" + percentEncodedPath(relative))
    }
}
