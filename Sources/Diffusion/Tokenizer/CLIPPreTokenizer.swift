/// Splits normalized text into the words BPE runs on, as CLIP's pattern does:
///
///     's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// tried in that order at each position, whitespace dropped. So letters group into words, every
/// digit stands alone, and punctuation runs stay together ("!!!", "((", "!'" in "!'s").
///
/// CLIP's pattern also lists <|startoftext|> and <|endoftext|> first, but in transformers those
/// alternatives never fire on ordinary text (verified: "<|ENDOFTEXT|>" lower-cased splits into
/// "<|", "endoftext", "|>"); the special tokens are matched before normalization instead, as
/// added tokens. This scanner does the same.
enum CLIPPreTokenizer {
    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map {
        Array($0.unicodeScalars)
    }

    static func words(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var words: [String] = []
        var i = 0
        func emit(_ range: Range<Int>) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[range])
            words.append(String(view))
        }
        while i < scalars.count {
            let c = scalars[i]
            if CLIPTextNormalizer.isWhitespace(c) { i += 1; continue }
            if c == "'", let length = contractionLength(scalars, at: i + 1) {
                emit(i..<(i + 1 + length)); i += 1 + length; continue
            }
            var end = i + 1
            if isLetter(c) {
                while end < scalars.count && isLetter(scalars[end]) { end += 1 }
            } else if !isNumber(c) {
                while end < scalars.count && isOther(scalars[end]) { end += 1 }
            }
            emit(i..<end)
            i = end
        }
        return words
    }

    private static func contractionLength(_ scalars: [Unicode.Scalar], at start: Int) -> Int? {
        for suffix in contractions where start + suffix.count <= scalars.count {
            if Array(scalars[start..<(start + suffix.count)]) == suffix { return suffix.count }
        }
        return nil
    }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isOther(_ s: Unicode.Scalar) -> Bool {
        !CLIPTextNormalizer.isWhitespace(s) && !isLetter(s) && !isNumber(s)
    }
}
