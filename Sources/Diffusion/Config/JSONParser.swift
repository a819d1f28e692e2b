// JSON as diffusers and transformers save it. Python's json module writes non-finite floats
// as bare `Infinity`, `-Infinity` and `NaN` (DPM-Solver's "lambda_min_clipped": -Infinity is in
// every saved DPMSolverMultistepScheduler config), which strict parsers such as Foundation's
// refuse; here they are numbers. Anything else non-standard is an error giving line and column.

struct JSONParser {
    private let bytes: [UInt8]
    private let path: String
    private var i = 0

    /// Deeper than any config; stops a hostile file from exhausting the stack.
    private static let maxDepth = 256

    static func parse(_ bytes: [UInt8], path: String) throws -> JSONValue {
        var p = JSONParser(bytes: bytes, path: path)
        // A UTF-8 byte order mark, as some Windows editors save.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.i == bytes.count else { throw p.error("expected the end of the document") }
        return v
    }

    private init(bytes: [UInt8], path: String) { self.bytes = bytes; self.path = path }

    private func error(_ problem: String) -> CheckpointError {
        var line = 1, column = 1
        for b in bytes[..<min(i, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        let found = i < bytes.count ? "'\(String(decoding: bytes[i...].prefix(12), as: UTF8.self))'" : "the end of the file"
        return .badJSON(path: path, reason: "is not valid JSON: line \(line), column \(column): \(problem), found \(found)")
    }

    private mutating func skipWhitespace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private func at(_ word: String) -> Bool {
        let w = Array(word.utf8)
        return bytes.count - i >= w.count && bytes[i..<(i + w.count)].elementsEqual(w)
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        skipWhitespace()
        guard depth < Self.maxDepth else { throw error("nested more than \(Self.maxDepth) levels deep") }
        guard i < bytes.count else { throw error("expected a value") }
        for (word, v) in [("true", JSONValue.bool(true)), ("false", .bool(false)), ("null", .null),
                          ("NaN", .number(.nan)), ("Infinity", .number(.infinity)), ("-Infinity", .number(-.infinity))] where at(word) {
            i += word.utf8.count
            return v
        }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("expected a value")
        }
    }

    private mutating func object(depth: Int) throws -> JSONValue {
        i += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key in double quotes") }
            let key = try string()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after the key \"\(key)\"") }
            i += 1
            // Python keeps the last of repeated keys; so does this.
            members[key] = try value(depth: depth + 1)
            skipWhitespace()
            guard i < bytes.count else { throw error("expected ',' or '}'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws -> JSONValue {
        i += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
        while true {
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < bytes.count else { throw error("expected ',' or ']'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
            throw error("expected ',' or ']'")
        }
    }

    /// The JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func number() throws -> Double {
        let start = i
        func digits() -> Int {
            let s = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            return i - s
        }
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard digits() > 0 else { throw error("expected digits") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw error("expected digits after the decimal point") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw error("expected digits in the exponent") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        guard let d = Double(text) else { i = start; throw error("expected a number") }
        return d
    }

    private mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): out.append(contentsOf: try unicodeEscape())
                default: i -= 2; throw error("unknown escape in a string")
                }
            case 0..<0x20:
                throw error("a control character inside a string (write it as an escape)")
            default:
                out.append(b)
                i += 1
            }
        }
        throw error("a string is not closed")
    }

    /// After `\u`: four hex digits, or a surrogate pair of two escapes; returns the UTF-8 bytes.
    private mutating func unicodeEscape() throws -> [UInt8] {
        func hex4() throws -> UInt32 {
            guard bytes.count - i >= 4, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                throw error("expected four hex digits after \\u")
            }
            i += 4
            return v
        }
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code), at("\\u") {
            i += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("expected the second half of a surrogate pair") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        }
        // A lone surrogate (Python writes them for invalid text) becomes U+FFFD.
        let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
        return Array(String(Character(scalar)).utf8)
    }
}
