// Typed reads of one config.json object, with diffusers' defaults for missing keys and errors
// that name the file and key.
//
// Every key a reader does not consume is checked at the end (`finish`): keys starting with "_"
// (diffusers' bookkeeping) and keys listed as irrelevant to the computation (dropout during
// inference, sample sizes, token ids, ...) pass; an unknown key passes only when it holds null
// or false, the way new diffusers releases add options that are off by default. Anything else
// is an error naming the key, so a new architectural option is never silently ignored.

struct ConfigReader {
    let path: String
    private let values: [String: JSONValue]
    private var consumed: Set<String> = []

    init(_ value: JSONValue, path: String) throws {
        guard case .object(let o) = value else {
            throw CheckpointError.badJSON(path: path, reason: "expected a JSON object at the top level, found \(value)")
        }
        self.path = path
        values = o
    }

    init(path: String) throws { try self.init(JSONValue.read(path), path: path) }

    func has(_ key: String) -> Bool { values[key].map { !$0.isNull } ?? false }
    func raw(_ key: String) -> JSONValue? { values[key] }

    private func bad(_ key: String, _ expected: String, _ v: JSONValue) -> CheckpointError {
        .badConfigValue(path: path, key: key, expected: expected, found: v.description)
    }

    /// The value of `key`, nil when missing or null.
    private mutating func value(_ key: String) -> JSONValue? {
        consumed.insert(key)
        guard let v = values[key], !v.isNull else { return nil }
        return v
    }

    private func intValue(_ key: String, _ v: JSONValue) throws -> Int {
        guard case .number(let d) = v, d == d.rounded(), abs(d) < 1e12 else { throw bad(key, "an integer", v) }
        return Int(d)
    }

    mutating func int(_ key: String, default d: Int) throws -> Int {
        guard let v = value(key) else { return d }
        return try intValue(key, v)
    }

    mutating func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        return try intValue(key, v)
    }

    mutating func float(_ key: String, default d: Float) throws -> Float {
        guard let v = value(key) else { return d }
        guard case .number(let x) = v else { throw bad(key, "a number", v) }
        return Float(x)
    }

    mutating func optionalFloat(_ key: String) throws -> Float? {
        guard let v = value(key) else { return nil }
        guard case .number(let x) = v else { throw bad(key, "a number", v) }
        return Float(x)
    }

    mutating func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = value(key) else { return d }
        guard case .bool(let b) = v else { throw bad(key, "true or false", v) }
        return b
    }

    mutating func optionalBool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw bad(key, "true or false", v) }
        return b
    }

    mutating func string(_ key: String, default d: String) throws -> String {
        try optionalString(key) ?? d
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw bad(key, "a string", v) }
        return s
    }

    mutating func stringList(_ key: String, default d: [String]) throws -> [String] {
        guard let v = value(key) else { return d }
        guard case .array(let a) = v else { throw bad(key, "a list of strings", v) }
        return try a.map { e in
            guard case .string(let s) = e else { throw bad(key, "a list of strings", v) }
            return s
        }
    }

    mutating func intList(_ key: String, default d: [Int]) throws -> [Int] {
        guard let v = value(key) else { return d }
        guard case .array(let a) = v else { throw bad(key, "a list of integers", v) }
        return try a.map { e in
            guard case .number = e else { throw bad(key, "a list of integers", v) }
            return try intValue(key, e)
        }
    }

    mutating func optionalDouble(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard case .number(let x) = v else { throw bad(key, "a number", v) }
        return x
    }

    mutating func doubleList(_ key: String) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw bad(key, "a list of numbers", v) }
        return try a.map { e in
            guard case .number(let x) = e else { throw bad(key, "a list of numbers", v) }
            return x
        }
    }

    /// An int applying to every block, or one int per block (diffusers accepts both, and older
    /// configs write the int). Nil when missing or null.
    mutating func perBlock(_ key: String, blocks: Int) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        switch v {
        case .number: return Array(repeating: try intValue(key, v), count: blocks)
        case .array(let a):
            guard a.count == blocks else { throw bad(key, "an integer or a list of \(blocks) integers (one per block)", v) }
            return try a.map { e in
                guard case .number = e else { throw bad(key, "an integer or a list of integers", v) }
                return try intValue(key, e)
            }
        default: throw bad(key, "an integer or a list of \(blocks) integers", v)
        }
    }

    /// Requires `key` to be absent or hold one of `allowed` (compared as JSON), else an
    /// unsupported-config error with `reason`.
    mutating func require(_ key: String, in allowed: [JSONValue], reason: String) throws {
        consumed.insert(key)
        guard let v = values[key] else { return }
        if !allowed.contains(v) { throw CheckpointError.unsupportedConfig(path: path, key: key, value: v.description, reason: reason) }
    }

    /// Keys present that no read consumed, sorted.
    var unconsumedKeys: [String] { values.keys.filter { !consumed.contains($0) }.sorted() }

    mutating func ignore(_ keys: [String]) { consumed.formUnion(keys) }

    func unsupported(_ key: String, _ reason: String) -> CheckpointError {
        .unsupportedConfig(path: path, key: key, value: values[key]?.description ?? "null", reason: reason)
    }

    /// Fails on the first unconsumed key that is not bookkeeping and not off (null/false).
    func finish() throws {
        for key in values.keys.sorted() where !consumed.contains(key) && !key.hasPrefix("_") {
            let v = values[key]!
            if v.isNull || v == .bool(false) { continue }
            throw CheckpointError.unsupportedConfig(path: path, key: key, value: v.description,
                                                    reason: "dropbooth does not know this setting; it may change the architecture")
        }
    }
}
