import Testing
@testable import YAML

@Suite struct YAMLWriterTests {
    /// The same tree without marks, to compare a document with its re-rendering.
    func unmarked(_ node: YAMLNode) -> YAMLNode {
        let origin = YAMLMark(line: 1, column: 1)
        switch node.content {
        case .scalar(let s, let style):
            return YAMLNode(.scalar(s, style.isPlain && !node.isTaggedString ? .plain : .doubleQuoted), mark: origin)
        case .mapping(let pairs):
            return YAMLNode(.mapping(pairs.map { YAMLPair(key: .scalar($0.name), value: unmarked($0.value)) }), mark: origin)
        case .sequence(let items):
            return YAMLNode(.sequence(items.map(unmarked)), mark: origin)
        }
    }

    @Test func renderedTreesReadBackTheSame() throws {
        let tree = YAMLNode.mapping([
            YAMLPair(key: .scalar("n"), value: .scalar("5e-06")),
            YAMLPair(key: .scalar("text"), value: .scalar("a: b # not a comment\n\t\"quoted\" \\ end", style: .doubleQuoted)),
            YAMLPair(key: .scalar("empty"), value: .scalar("", style: .doubleQuoted)),
            YAMLPair(key: .scalar("list"), value: .sequence([.scalar("1"), .scalar("x", style: .doubleQuoted)])),
            YAMLPair(key: .scalar("nested"), value: .mapping([
                YAMLPair(key: .scalar("items"), value: .sequence([
                    .mapping([YAMLPair(key: .scalar("a"), value: .scalar("1")), YAMLPair(key: .scalar("b"), value: .sequence([.scalar("2")]))]),
                    .sequence([.scalar("3"), .scalar("4")]),
                ])),
                YAMLPair(key: .scalar("none"), value: .sequence([])),
                YAMLPair(key: .scalar("odd key: yes"), value: .mapping([])),
            ])),
            YAMLPair(key: .scalar("unicode"), value: .scalar("ä\u{1}\u{2028}", style: .doubleQuoted)),
        ])
        let text = YAMLWriter.render(tree)
        let back = try YAMLParser.parse(text)
        #expect(unmarked(back) == unmarked(tree), "\(text)")
    }

    @Test func quotingEscapesControlCharacters() {
        #expect(YAMLWriter.quoted("a\"b\\c\nd\u{7}") == "\"a\\\"b\\\\c\\nd\\u0007\"")
    }
}
