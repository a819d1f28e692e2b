// A parsed JSON document that keeps JSON's own types (true is not 1), so config checks can
// say exactly what a key held. `JSONParser` does the parsing, accepting the bare Infinity,
// -Infinity and NaN that Python's json module writes into diffusers' configs.
import Foundation

public enum JSONValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Reads and parses a file; errors name the file (and the line and column of bad JSON).
    public static func read(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError.missingFile(path: path, what: "(cannot read the file)")
        }
        return try parse(data, path: path)
    }

    /// Parses a document; `path` is the name errors give for it.
    public static func parse(_ data: Data, path: String) throws -> JSONValue {
        try JSONParser.parse([UInt8](data), path: path)
    }

    /// The value under `key` when this is an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let o) = self else { return nil }
        return o[key]
    }

    /// As the value would be written in JSON by Python (for messages).
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d) where d.isNaN: return "NaN"
        case .number(let d) where d.isInfinite: return d < 0 ? "-Infinity" : "Infinity"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "}"
        }
    }

    public var isNull: Bool { self == .null }
}

// Literals, so configs can be written inline (tests, the built-in SD scheduler settings).
extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByStringLiteral,
                     ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
