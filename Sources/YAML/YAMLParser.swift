import CYAML

/// Parses one YAML document into a `YAMLNode` tree with libyaml's event parser.
///
/// The tree is built from events (not libyaml's document loader) so that every limit is checked
/// as the document is read: an oversized, too deeply nested or alias-bomb document is refused
/// at the first event that crosses a limit, in memory bounded by the limits.
public enum YAMLParser {
    public static func parse(_ text: String, limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> YAMLNode {
        try parse(bytes: Array(text.utf8), limits: limits)
    }

    public static func parse(bytes: [UInt8], limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> YAMLNode {
        guard bytes.count <= limits.maxBytes else {
            throw YAMLError(.tooLarge, "the document is \(bytes.count) bytes; the limit is \(limits.maxBytes) bytes",
                            at: YAMLMark(line: 1, column: 1))
        }
        // libyaml asserts a non-null input pointer, which an empty array need not have.
        if bytes.isEmpty { return YAMLNode(.scalar("", .plain), mark: YAMLMark(line: 1, column: 1)) }
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(YAMLError) -> YAMLNode in
                var composer = Composer(limits: limits, input: buffer)
                return try composer.run()
            }
        }
        return try result.get()
    }
}

/// Turns libyaml's events into nodes. One instance per document; not reusable.
private struct Composer {
    let limits: YAMLLimits
    let input: UnsafeBufferPointer<UInt8>

    /// Open collections, innermost last.
    private var stack: [Frame] = []
    private var root: YAMLNode?
    private var documents = 0
    /// Nodes so far, aliases counted as the nodes they stand for.
    private var nodeCount = 0
    /// Anchored nodes with their expanded size, so an alias can be charged for what it means.
    private var anchors: [String: (node: YAMLNode, weight: Int)] = [:]

    init(limits: YAMLLimits, input: UnsafeBufferPointer<UInt8>) {
        self.limits = limits; self.input = input
    }

    private struct Frame {
        var isMapping: Bool
        var mark: YAMLMark
        var anchor: String?
        var isTaggedString = false
        /// This collection's size with aliases expanded: itself plus its children's weights.
        var weight = 1
        var items: [YAMLNode] = []
        var pairs: [YAMLPair] = []
        var pendingKey: YAMLNode?
        var keyMarks: [String: YAMLMark] = [:]
    }

    mutating func run() throws(YAMLError) -> YAMLNode {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(.unreadable, "libyaml could not start (out of memory)", at: YAMLMark(line: 1, column: 1))
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, input.baseAddress, input.count)

        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { throw syntaxError(parser) }
            defer { yaml_event_delete(&event) }
            if event.type == YAML_STREAM_END_EVENT { break }
            try handle(event)
        }
        return root ?? YAMLNode(.scalar("", .plain), mark: YAMLMark(line: 1, column: 1))
    }

    private mutating func handle(_ event: yaml_event_t) throws(YAMLError) {
        let mark = YAMLMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw YAMLError(.multipleDocuments, "only one document per file is allowed; remove this `---` and what follows", at: mark)
            }
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
            let isTaggedString = try checkTag(s.tag, allowed: ["tag:yaml.org,2002:str", "!"], at: mark)
            let node = YAMLNode(.scalar(text, style(s.style)), mark: mark, isTaggedString: isTaggedString)
            try count(1, at: mark, what: "this value")
            try append(node, weight: 1, anchor: string(s.anchor))
        case YAML_ALIAS_EVENT:
            let name = string(event.data.alias.anchor) ?? ""
            guard let (node, weight) = anchors[name] else {
                throw YAMLError(.unknownAnchor, "the alias *\(name) refers to no anchor defined before it (a collection cannot refer to itself)", at: mark)
            }
            try count(weight, at: mark, what: "the alias *\(name), which stands for \(weight) nodes,")
            var copy = node
            copy.mark = mark
            try append(copy, weight: weight, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            let s = event.data.sequence_start
            let tagged = try checkTag(s.tag, allowed: ["tag:yaml.org,2002:seq"], at: mark)
            try open(isMapping: false, mark: mark, anchor: string(s.anchor), tagged: tagged)
        case YAML_MAPPING_START_EVENT:
            let m = event.data.mapping_start
            let tagged = try checkTag(m.tag, allowed: ["tag:yaml.org,2002:map"], at: mark)
            try open(isMapping: true, mark: mark, anchor: string(m.anchor), tagged: tagged)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let frame = stack.removeLast()
            let content: YAMLNode.Content = frame.isMapping ? .mapping(frame.pairs) : .sequence(frame.items)
            try append(YAMLNode(content, mark: frame.mark), weight: frame.weight, anchor: frame.anchor)
        default:
            break  // stream start, document end: nothing to build
        }
    }

    private mutating func open(isMapping: Bool, mark: YAMLMark, anchor: String?, tagged: Bool) throws(YAMLError) {
        guard stack.count < limits.maxDepth else {
            throw YAMLError(.tooDeep, "collections are nested more than \(limits.maxDepth) deep", at: mark)
        }
        try count(1, at: mark, what: "this collection")
        stack.append(Frame(isMapping: isMapping, mark: mark, anchor: anchor))
    }

    private mutating func count(_ weight: Int, at mark: YAMLMark, what: String) throws(YAMLError) {
        nodeCount += weight
        if nodeCount > limits.maxNodes {
            throw YAMLError(.tooManyNodes, "\(what) takes the document over the limit of \(limits.maxNodes) nodes (aliases count as the nodes they repeat)", at: mark)
        }
    }

    /// Adds a finished node to the innermost open collection (or makes it the document's root).
    private mutating func append(_ node: YAMLNode, weight: Int, anchor: String?) throws(YAMLError) {
        if let anchor { anchors[anchor] = (node, weight) }
        guard !stack.isEmpty else { root = node; return }
        let top = stack.count - 1
        stack[top].weight += weight
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].pairs.append(YAMLPair(key: key, value: node))
            stack[top].pendingKey = nil
        } else {
            guard let name = node.scalarText else {
                throw YAMLError(.unsupportedKey, "a mapping key must be a plain value, not a list or mapping", at: node.mark)
            }
            if let first = stack[top].keyMarks[name] {
                throw YAMLError(.duplicateKey, "the key `\(name)` appears twice in the same mapping (first at line \(first.line), column \(first.column))", at: node.mark)
            }
            stack[top].keyMarks[name] = node.mark
            stack[top].pendingKey = node
        }
    }

    /// Tags would let a document ask for types we do not want to construct: only plain strings
    /// and the standard collection tags are accepted. Returns whether the tag marks text.
    private func checkTag(_ tag: UnsafeMutablePointer<yaml_char_t>?, allowed: Set<String>, at mark: YAMLMark) throws(YAMLError) -> Bool {
        guard let name = string(tag) else { return false }
        guard allowed.contains(name) else {
            throw YAMLError(.unsupportedTag, "the tag \(name) is not supported; write the value without a tag", at: mark)
        }
        return name == "tag:yaml.org,2002:str" || name == "!"
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }

    private func style(_ s: yaml_scalar_style_t) -> YAMLScalarStyle {
        switch s {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }

    /// libyaml's problem text and mark, with its context ("while parsing a block mapping") if any.
    private func syntaxError(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        let mark: YAMLMark
        if parser.error == YAML_READER_ERROR {
            // Reader errors (bad encoding, control characters) carry a byte offset, not a mark.
            let offset = min(Int(parser.problem_offset), input.count)
            var line = 1, lineStart = 0
            for i in 0..<offset where input[i] == UInt8(ascii: "\n") { line += 1; lineStart = i + 1 }
            mark = YAMLMark(line: line, column: offset - lineStart + 1)
        } else {
            mark = YAMLMark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        }
        var message = "YAML syntax: \(problem)"
        if let context = parser.context.map({ String(cString: $0) }) {
            message += " (\(context) at line \(parser.context_mark.line + 1), column \(parser.context_mark.column + 1))"
        }
        return YAMLError(.syntax, message, at: mark)
    }
}
