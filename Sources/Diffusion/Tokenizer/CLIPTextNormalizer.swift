/// The text cleanup in front of CLIP's tokenizer, as transformers' CLIPTokenizer does it:
/// Unicode NFC, every run of whitespace collapsed to one space, then lower-casing.
///
/// Lower-casing goes scalar by scalar with the full Unicode mapping ("İ" → "i̇") and no context
/// rules (a final "Σ" becomes "σ", not "ς"), which is what the reference tokenizer does.
///
/// OpenAI's original CLIP code also un-escapes HTML entities twice (its `basic_clean`, after
/// ftfy). transformers does not, and Stable Diffusion pipelines and trainers use transformers,
/// so that step is an option, off by default.
import Foundation

struct CLIPTextNormalizer: Sendable {
    var unescapesHTML = false

    func normalize(_ text: String) -> String {
        var source = text
        if unescapesHTML {
            source = HTMLEntities.unescape(HTMLEntities.unescape(source))
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let composed = source.precomposedStringWithCanonicalMapping
        var result = String.UnicodeScalarView()
        var inWhitespace = false
        for scalar in composed.unicodeScalars {
            if CLIPTextNormalizer.isWhitespace(scalar) {
                if !inWhitespace { result.append(" ") }
                inWhitespace = true
                continue
            }
            inWhitespace = false
            result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(result)
    }

    /// The regex class `\s`: the Unicode White_Space property.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace }
}

/// The HTML entities prompts scraped from the web carry: the named ones in common use and the
/// numeric forms (&#39; &#x27;). Anything else is left as written.
enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}",
        "copy": "©", "reg": "®", "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–",
        "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "deg": "°", "times": "×",
    ]

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let afterAmp = rest.index(after: amp)
            // An entity is at most a few characters up to ';'.
            if let semi = rest[afterAmp...].prefix(10).firstIndex(of: ";"),
               let replacement = decode(rest[afterAmp..<semi]) {
                out += replacement
                rest = rest[rest.index(after: semi)...]
            } else {
                out += "&"
                rest = rest[afterAmp...]
            }
        }
        out += rest
        return out
    }

    private static func decode(_ name: Substring) -> String? {
        if name.hasPrefix("#x") || name.hasPrefix("#X") {
            return UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
        }
        if name.hasPrefix("#") {
            return UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String($0) }
        }
        return named[String(name)]
    }
}
