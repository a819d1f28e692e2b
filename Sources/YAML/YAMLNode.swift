/// Where a node starts in its document; 1-based like editors and compilers show it.
public struct YAMLMark: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// How a scalar was written. A quoted or block scalar is always text (`"8"` is the string 8);
/// only plain scalars are read as numbers, booleans or null.
public enum YAMLScalarStyle: Sendable, Equatable {
    case plain, singleQuoted, doubleQuoted, literal, folded

    public var isPlain: Bool { self == .plain }
}

/// One node of a parsed document. Aliases are resolved: an alias is a copy of its anchor's node
/// (shared storage, so copies cost no memory; their size counts against the node limit).
public struct YAMLNode: Sendable, Equatable {
    public indirect enum Content: Sendable, Equatable {
        case scalar(String, YAMLScalarStyle)
        case mapping([YAMLPair])
        case sequence([YAMLNode])
    }

    public var content: Content
    public var mark: YAMLMark
    /// An explicit string tag (`!!str 8`, `! 8`) makes a plain scalar text; other tags are refused
    /// by the parser, so this is all the tag information a reader needs.
    public var isTaggedString: Bool

    public init(_ content: Content, mark: YAMLMark, isTaggedString: Bool = false) {
        self.content = content; self.mark = mark; self.isTaggedString = isTaggedString
    }

    public static func scalar(_ text: String, style: YAMLScalarStyle = .plain, mark: YAMLMark = .init(line: 1, column: 1)) -> YAMLNode {
        YAMLNode(.scalar(text, style), mark: mark)
    }
    public static func mapping(_ pairs: [YAMLPair], mark: YAMLMark = .init(line: 1, column: 1)) -> YAMLNode {
        YAMLNode(.mapping(pairs), mark: mark)
    }
    public static func sequence(_ items: [YAMLNode], mark: YAMLMark = .init(line: 1, column: 1)) -> YAMLNode {
        YAMLNode(.sequence(items), mark: mark)
    }

    /// The pairs of a mapping in document order, nil for other nodes.
    public var pairs: [YAMLPair]? { if case .mapping(let p) = content { return p } else { return nil } }
    /// The items of a sequence, nil for other nodes.
    public var items: [YAMLNode]? { if case .sequence(let i) = content { return i } else { return nil } }
    /// The text of a scalar (whatever its style), nil for collections.
    public var scalarText: String? { if case .scalar(let s, _) = content { return s } else { return nil } }

    /// The value for a scalar key of a mapping (keys are unique: the parser refuses duplicates).
    public subscript(key: String) -> YAMLNode? {
        pairs?.first { $0.key.scalarText == key }?.value
    }
}

/// A key and its value, in the order they appear in the document.
public struct YAMLPair: Sendable, Equatable {
    public var key: YAMLNode
    public var value: YAMLNode
    public init(key: YAMLNode, value: YAMLNode) { self.key = key; self.value = value }
    /// Keys are scalars (the parser refuses others); this is their text.
    public var name: String { key.scalarText ?? "" }
}
