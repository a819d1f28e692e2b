/// Caps on what one document may cost. Documents come from anyone who can write to a share, so
/// every limit is checked while parsing: a hostile document is refused before it is built.
public struct YAMLLimits: Sendable, Equatable {
    /// Size of the document text.
    public var maxBytes: Int
    /// Collections inside collections.
    public var maxDepth: Int
    /// Nodes of the tree with every alias counted as the nodes it stands for (billion laughs).
    public var maxNodes: Int

    public init(maxBytes: Int = 256 << 10, maxDepth: Int = 32, maxNodes: Int = 20_000) {
        self.maxBytes = maxBytes; self.maxDepth = maxDepth; self.maxNodes = maxNodes
    }
}
