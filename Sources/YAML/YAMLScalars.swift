/// A value of the wrong type: what the reader expected and what the document holds.
public struct YAMLTypeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var mark: YAMLMark
    public var expected: String
    public var found: String
    /// How to fix it, when there is something specific to say (remove quotes, write true/false).
    public var hint: String?

    public var description: String { "expected \(expected), found \(found)" }
}

/// Typed reading of nodes. Only plain scalars are numbers, booleans or null: `"8"` and `'true'`
/// are text. Booleans are YAML 1.2's true/false only: `yes`, `no`, `on`, `off` meant booleans in
/// YAML 1.1 and text in 1.2, so a boolean field refuses them rather than guess.
extension YAMLNode {
    private var plainText: String? {
        if case .scalar(let s, .plain) = content, !isTaggedString { return s }
        return nil
    }

    /// `~`, `null` or nothing at all, written plain.
    public var isNull: Bool {
        guard let s = plainText else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s)
    }

    /// What this node is, for messages: `a list`, `the number 8`, `the text "8" (quoted)`.
    public var kindDescription: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s, let style):
            let shown = Self.quoteForMessage(s)
            if !style.isPlain || isTaggedString { return "the text \(shown) (quoted)" }
            if isNull { return "nothing (null)" }
            if Self.parseInt(s) != nil || Self.parseDouble(s) != nil { return "the number \(s)" }
            if Self.parseBool(s) != nil { return "the boolean \(s)" }
            return "the text \(shown)"
        }
    }

    /// Any scalar except null, as the text written: a prompt may well read `1984` or `yes`.
    public func string() throws(YAMLTypeError) -> String {
        guard case .scalar(let s, _) = content, !isNull else { throw typeError("text") }
        return s
    }

    public func int() throws(YAMLTypeError) -> Int {
        guard let s = plainText, let value = Self.parseInt(s) else {
            if let s = plainText, Self.parseDouble(s) != nil {
                throw typeError("a whole number", hint: "write it without a fraction or exponent")
            }
            throw typeError("a whole number", hint: quotedHint)
        }
        return value
    }

    public func double() throws(YAMLTypeError) -> Double {
        guard let s = plainText, let value = Self.parseDouble(s) else {
            if let s = plainText, [".inf", "-.inf", "+.inf", ".nan", ".Inf", ".NaN", ".INF", ".NAN"].contains(s) {
                throw typeError("a finite number")
            }
            throw typeError("a number", hint: quotedHint)
        }
        return value
    }

    public func bool() throws(YAMLTypeError) -> Bool {
        guard let s = plainText, let value = Self.parseBool(s) else {
            if let s = plainText, ["yes", "no", "on", "off", "y", "n"].contains(s.lowercased()) {
                throw typeError("true or false", hint: "`\(s)` is a boolean in YAML 1.1 but text in YAML 1.2; write true or false")
            }
            throw typeError("true or false", hint: quotedHint)
        }
        return value
    }

    public func mapping() throws(YAMLTypeError) -> [YAMLPair] {
        guard let pairs else { throw typeError("a mapping of `key: value` lines") }
        return pairs
    }

    public func sequence() throws(YAMLTypeError) -> [YAMLNode] {
        guard let items else { throw typeError("a list (`- item` lines or `[a, b]`)") }
        return items
    }

    public func typeError(_ expected: String, hint: String? = nil) -> YAMLTypeError {
        YAMLTypeError(mark: mark, expected: expected, found: kindDescription, hint: hint)
    }

    private var quotedHint: String? {
        if case .scalar(_, let style) = content, !style.isPlain || isTaggedString { return "remove the quotes" }
        return nil
    }

    // MARK: scalar grammar (YAML 1.2 core schema, plus `_` digit separators for readability)

    static func parseInt(_ s: String) -> Int? {
        var body = Substring(s)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        guard let first = body.first, first.isASCII, first.isNumber,
              let last = body.last, last.isASCII, last.isNumber,
              body.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "_" }) else { return nil }
        return Int(String(s.filter { $0 != "_" }))
    }

    static func parseDouble(_ s: String) -> Double? {
        // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
        let chars = Array(s.utf8)
        var i = 0
        func digits() -> Int { let start = i; while i < chars.count, chars[i] >= 48, chars[i] <= 57 { i += 1 }; return i - start }
        if i < chars.count, chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-") { i += 1 }
        let whole = digits()
        var fraction = 0
        if i < chars.count, chars[i] == UInt8(ascii: ".") { i += 1; fraction = digits() }
        guard whole > 0 || fraction > 0 else { return nil }
        if i < chars.count, chars[i] == UInt8(ascii: "e") || chars[i] == UInt8(ascii: "E") {
            i += 1
            if i < chars.count, chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return nil }
        }
        guard i == chars.count, let value = Double(s), value.isFinite else { return nil }
        return value
    }

    static func parseBool(_ s: String) -> Bool? {
        switch s {
        case "true", "True", "TRUE": true
        case "false", "False", "FALSE": false
        default: nil
        }
    }

    static func quoteForMessage(_ s: String) -> String {
        let short = s.count > 40 ? String(s.prefix(37)) + "..." : s
        return "\"" + short.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n") + "\""
    }
}
