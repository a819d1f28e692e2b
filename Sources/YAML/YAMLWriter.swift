/// Writes a node tree as block-style YAML. Plain scalars are written as they are (the caller
/// uses them for numbers, booleans and null); every other scalar is written double-quoted, so
/// any text — a prompt with `: ` or `#` in it, a leading space — reads back exactly.
public enum YAMLWriter {
    public static func render(_ node: YAMLNode) -> String {
        var out = ""
        switch node.content {
        case .scalar, .mapping([]), .sequence([]):
            out = inline(node) + "\n"
        case .mapping(let pairs):
            writeMapping(pairs, indent: 0, into: &out)
        case .sequence(let items):
            writeSequence(items, indent: 0, into: &out)
        }
        return out
    }

    private static func writeMapping(_ pairs: [YAMLPair], indent: Int, into out: inout String) {
        for (i, pair) in pairs.enumerated() {
            // The first key of a mapping inside a list item shares the `- ` line.
            if i > 0 || !out.hasSuffix("- ") { out += String(repeating: " ", count: indent) }
            out += key(pair.name) + ":"
            writeValue(pair.value, indent: indent, into: &out)
        }
    }

    private static func writeSequence(_ items: [YAMLNode], indent: Int, into out: inout String) {
        for item in items {
            out += String(repeating: " ", count: indent) + "- "
            switch item.content {
            case .mapping(let pairs) where !pairs.isEmpty:
                writeMapping(pairs, indent: indent + 2, into: &out)
            case .sequence(let inner) where !inner.isEmpty:
                out += "\n"
                writeSequence(inner, indent: indent + 2, into: &out)
            default:
                out += inline(item) + "\n"
            }
        }
    }

    private static func writeValue(_ value: YAMLNode, indent: Int, into out: inout String) {
        switch value.content {
        case .mapping(let pairs) where !pairs.isEmpty:
            out += "\n"
            writeMapping(pairs, indent: indent + 2, into: &out)
        case .sequence(let items) where !items.isEmpty:
            // Short lists of scalars read best on one line: `seeds: [1, 2]`.
            let flow = items.allSatisfy { $0.scalarText != nil } ? "[" + items.map(inline).joined(separator: ", ") + "]" : nil
            if let flow, flow.count <= 60 {
                out += " " + flow + "\n"
            } else {
                out += "\n"
                writeSequence(items, indent: indent + 2, into: &out)
            }
        default:
            out += " " + inline(value) + "\n"
        }
    }

    private static func inline(_ node: YAMLNode) -> String {
        switch node.content {
        case .scalar(let s, .plain) where !node.isTaggedString: s.isEmpty ? "null" : s
        case .scalar(let s, _): quoted(s)
        case .mapping: "{}"
        case .sequence: "[]"
        }
    }

    private static func key(_ name: String) -> String {
        let safe = !name.isEmpty && name.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" || $0 == "-" || $0 == "."
        }
        return safe ? name : quoted(name)
    }

    /// A double-quoted YAML scalar; control characters escaped, everything else kept as is.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                    || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar.value == 0xFEFF {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
