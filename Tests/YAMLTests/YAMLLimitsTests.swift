import Testing
@testable import YAML

@Suite struct YAMLLimitsTests {
    /// The classic billion laughs: nine levels of ten aliases each, 10^9 strings when expanded.
    static let billionLaughs = """
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """

    @Test func billionLaughsIsRefused() {
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(Self.billionLaughs) }
        #expect(error?.kind == .tooManyNodes)
        // 10 + 11 + 111 + 1111 + 11111 nodes fit in 20 000 only up to `d`: it stops on line 5.
        #expect(error?.mark.line == 5)
        #expect(error?.message.contains("*d") == true)
    }

    @Test func aliasExpansionCountsAgainstTheNodeLimit() throws {
        let text = "a: &a [1, 2, 3, 4]\nb: [*a, *a]\n"
        // root 1 + a 1 + keys 2 + 4 items + b 1 + 2 × 5 = 19 nodes
        #expect(throws: Never.self) { try YAMLParser.parse(text, limits: YAMLLimits(maxNodes: 19)) }
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(text, limits: YAMLLimits(maxNodes: 18)) }
        #expect(error?.kind == .tooManyNodes)
        #expect(error?.mark == YAMLMark(line: 2, column: 9))
    }

    @Test func deepNestingIsRefusedAtTheLimit() throws {
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(throws: Never.self) { try YAMLParser.parse(ok) }
        let tooDeep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(tooDeep) }
        #expect(error?.kind == .tooDeep)
        #expect(error?.mark == YAMLMark(line: 1, column: 33))
    }

    @Test func veryDeepNestingFailsAtTheFirstLevelOverTheLimit() {
        // 100 000 open brackets: refused at level 33, long before libyaml would see the end.
        let bomb = String(repeating: "[", count: 100_000)
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(bomb, limits: YAMLLimits(maxBytes: 1 << 20)) }
        #expect(error?.kind == .tooDeep)
    }

    @Test func deepBlockMappingsCountToo() {
        var text = ""
        for depth in 0..<5 { text += String(repeating: "  ", count: depth) + "k\(depth):\n" }
        text += String(repeating: "  ", count: 5) + "leaf: 1\n"
        #expect(throws: Never.self) { try YAMLParser.parse(text, limits: YAMLLimits(maxDepth: 6)) }
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(text, limits: YAMLLimits(maxDepth: 5)) }
        #expect(error?.kind == .tooDeep)
        #expect(error?.mark.line == 6)
    }

    @Test func oversizeDocumentIsRefusedBeforeParsing() {
        let text = "a: " + String(repeating: "x", count: 2000)
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(text, limits: YAMLLimits(maxBytes: 1000)) }
        #expect(error?.kind == .tooLarge)
        #expect(error?.message.contains("2003 bytes") == true)
    }

    @Test func manyPlainNodesHitTheNodeLimit() {
        let text = "[" + Array(repeating: "1", count: 200).joined(separator: ",") + "]"
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(text, limits: YAMLLimits(maxNodes: 100)) }
        #expect(error?.kind == .tooManyNodes)
    }
}
