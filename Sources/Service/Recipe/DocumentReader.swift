import YAML

/// Hand decoding of a YAML document that keeps going after a problem: every reader reports
/// into `problems` and returns nil, so one pass finds everything wrong with a file.
struct DocumentReader {
    let file: String
    private(set) var problems: [DocumentProblem] = []

    init(file: String) { self.file = file }

    /// Past this many, a document is not worth reading further (and the list not worth printing).
    static let maxProblems = 100

    mutating func report(at mark: YAMLMark, _ field: String, _ message: String, suggestion: String? = nil) {
        guard problems.count <= Self.maxProblems else { return }
        if problems.count == Self.maxProblems {
            problems.append(DocumentProblem(file: file, line: mark.line, column: mark.column, field: "",
                                            message: "too many problems; stopped reporting after \(Self.maxProblems)",
                                            suggestion: "start again from one of the examples in recipes/"))
            return
        }
        problems.append(DocumentProblem(file: file, line: mark.line, column: mark.column, field: field,
                                        message: message, suggestion: suggestion))
    }

    mutating func report(_ error: YAMLTypeError, _ field: String, suggestion: String? = nil) {
        report(at: error.mark, field, error.description, suggestion: suggestion ?? error.hint)
    }

    // MARK: mappings

    /// A mapping's fields, after unknown keys have been reported.
    struct Section {
        let node: YAMLNode
        let path: String
        var mark: YAMLMark { node.mark }
        subscript(key: String) -> YAMLNode? { node[key] }
        func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        func has(_ key: String) -> Bool { node[key] != nil }
    }

    /// Opens `node` as a mapping with the given keys. Unknown keys are reported with, in order of
    /// preference, a specific hint (`hints`: names from other tools, keys that live elsewhere,
    /// options we deliberately do not offer), the closest known key, or the list of known keys.
    mutating func section(_ node: YAMLNode, path: String, keys: [String], hints: [String: String] = [:]) -> Section? {
        guard let pairs = node.pairs else {
            report(node.typeError("a mapping of `key: value` lines"), path)
            return nil
        }
        for pair in pairs where !keys.contains(pair.name) {
            let field = path.isEmpty ? pair.name : "\(path).\(pair.name)"
            if let hint = hints[pair.name] {
                report(at: pair.key.mark, field, "unknown key `\(pair.name)`", suggestion: hint)
            } else if let near = DidYouMean.closest(to: pair.name, in: keys) {
                report(at: pair.key.mark, field, "unknown key `\(pair.name)`", suggestion: "did you mean `\(near)`?")
            } else {
                let place = path.isEmpty ? "at the top level" : "in `\(path)`"
                report(at: pair.key.mark, field, "unknown key `\(pair.name)`",
                       suggestion: "keys allowed \(place): \(keys.joined(separator: ", "))")
            }
        }
        return Section(node: node, path: path)
    }

    mutating func require(_ s: Section, _ key: String, _ what: String, suggestion: String? = nil) {
        guard !s.has(key) else { return }
        let place = s.path.isEmpty ? "" : " in `\(s.path)`"
        report(at: s.mark, s.field(key), "missing\(place): \(what)", suggestion: suggestion)
    }

    // MARK: scalars

    mutating func int(_ s: Section, _ key: String, in range: ClosedRange<Int>, note: String? = nil) -> Int? {
        guard let node = s[key] else { return nil }
        return int(node, s.field(key), in: range, note: note)
    }

    mutating func int(_ node: YAMLNode, _ field: String, in range: ClosedRange<Int>, note: String? = nil) -> Int? {
        do {
            let value = try node.int()
            guard range.contains(value) else {
                report(at: node.mark, field, "expected \(Self.describe(range)), found \(value)", suggestion: note)
                return nil
            }
            return value
        } catch { report(error, field); return nil }
    }

    /// A number within `range`; with `aboveLower` the lower bound itself is excluded (a learning rate of 0).
    mutating func double(_ s: Section, _ key: String, in range: ClosedRange<Double>, aboveLower: Bool = false, note: String? = nil) -> Double? {
        guard let node = s[key] else { return nil }
        do {
            let value = try node.double()
            guard range.contains(value), !(aboveLower && value == range.lowerBound) else {
                let lower = aboveLower ? "above \(Self.format(range.lowerBound))" : "from \(Self.format(range.lowerBound))"
                report(at: node.mark, s.field(key), "expected a number \(lower) to \(Self.format(range.upperBound)), found \(node.scalarText ?? "")",
                       suggestion: note)
                return nil
            }
            return value
        } catch { report(error, s.field(key)); return nil }
    }

    mutating func bool(_ s: Section, _ key: String) -> Bool? {
        guard let node = s[key] else { return nil }
        do { return try node.bool() } catch { report(error, s.field(key)); return nil }
    }

    /// Text of at most `maxLength` characters; control characters other than newline and tab are refused.
    mutating func string(_ s: Section, _ key: String, maxLength: Int = 1000) -> String? {
        guard let node = s[key] else { return nil }
        return string(node, s.field(key), maxLength: maxLength)
    }

    mutating func string(_ node: YAMLNode, _ field: String, maxLength: Int = 1000) -> String? {
        do {
            let value = try node.string()
            if value.count > maxLength {
                report(at: node.mark, field, "text of \(value.count) characters is longer than the \(maxLength) allowed")
                return nil
            }
            if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F }) {
                report(at: node.mark, field, "text contains control characters")
                return nil
            }
            return value
        } catch { report(error, field); return nil }
    }

    /// One of an enumeration's values, reported with the allowed list and the closest one.
    mutating func choice<E: RawRepresentable<String>>(_ s: Section, _ key: String, among allowed: [E]) -> E? {
        guard let node = s[key] else { return nil }
        return choice(node, s.field(key), among: allowed)
    }

    mutating func choice<E: RawRepresentable<String>>(_ node: YAMLNode, _ field: String, among allowed: [E]) -> E? {
        let names = allowed.map(\.rawValue)
        guard let text = try? node.string(), let value = E(rawValue: text), names.contains(text) else {
            let found = node.kindDescription
            let near = (try? node.string()).flatMap { DidYouMean.closest(to: $0, in: names) }
            report(at: node.mark, field, "expected one of \(names.joined(separator: ", ")); found \(found)",
                   suggestion: near.map { "did you mean `\($0)`?" })
            return nil
        }
        return value
    }

    /// A list; one plain value is taken as a list of one (`seeds: 7` means `seeds: [7]`).
    mutating func list(_ s: Section, _ key: String, maxCount: Int) -> [YAMLNode]? {
        guard let node = s[key] else { return nil }
        let items: [YAMLNode]
        switch node.content {
        case .sequence(let i): items = i
        case .scalar where !node.isNull: items = [node]
        default: report(node.typeError("a list (`- item` lines or `[a, b]`)"), s.field(key)); return nil
        }
        if items.count > maxCount {
            report(at: node.mark, s.field(key), "\(items.count) items is more than the \(maxCount) allowed")
            return nil
        }
        return items
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "a whole number of at least \(range.lowerBound)" }
        return "a whole number from \(range.lowerBound) to \(range.upperBound)"
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}
