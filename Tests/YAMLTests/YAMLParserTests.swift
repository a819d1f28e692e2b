import Testing
@testable import YAML

@Suite struct YAMLParserTests {
    @Test func mappingsSequencesAndScalarsCarryTheirMarks() throws {
        let root = try YAMLParser.parse("""
        name: demo
        train:
          steps: 400
          seeds: [1, 2]
        """)
        #expect(root.pairs?.map(\.name) == ["name", "train"])
        #expect(root["name"]?.scalarText == "demo")
        #expect(root["name"]?.mark == YAMLMark(line: 1, column: 7))
        let train = try #require(root["train"])
        #expect(train.mark == YAMLMark(line: 3, column: 3))
        #expect(try train["steps"]?.int() == 400)
        #expect(train["steps"]?.mark == YAMLMark(line: 3, column: 10))
        let seeds = try #require(train["seeds"]?.items)
        #expect(try seeds.map { try $0.int() } == [1, 2])
        #expect(seeds[1].mark == YAMLMark(line: 4, column: 14))
    }

    @Test func mappingKeepsDocumentOrder() throws {
        let root = try YAMLParser.parse("z: 1\na: 2\nm: 3\n")
        #expect(root.pairs?.map(\.name) == ["z", "a", "m"])
    }

    @Test func quotedScalarsStayText() throws {
        let root = try YAMLParser.parse("plain: 8\ndouble: \"8\"\nsingle: '8'\ntagged: !!str 8\nblock: |\n  8\n")
        #expect(try root["plain"]?.int() == 8)
        for key in ["double", "single", "tagged"] {
            let node = try #require(root[key])
            #expect(try node.string() == "8")
            let error = #expect(throws: YAMLTypeError.self) { try node.int() }
            #expect(error?.hint == "remove the quotes")
            #expect(error?.found == "the text \"8\" (quoted)")
        }
        #expect(root["double"]?.content == .scalar("8", .doubleQuoted))
        #expect(root["single"]?.content == .scalar("8", .singleQuoted))
        #expect(root["block"]?.content == .scalar("8\n", .literal))
    }

    @Test func booleansAreOnlyTrueAndFalse() throws {
        let root = try YAMLParser.parse("a: true\nb: False\nc: yes\nd: off\ne: \"true\"\n")
        #expect(try root["a"]?.bool() == true)
        #expect(try root["b"]?.bool() == false)
        let yes = #expect(throws: YAMLTypeError.self) { try root["c"]?.bool() }
        #expect(yes?.hint?.contains("write true or false") == true)
        #expect(throws: YAMLTypeError.self) { try root["d"]?.bool() }
        #expect(throws: YAMLTypeError.self) { try root["e"]?.bool() }
        // As text, `yes` is what was written.
        #expect(try root["c"]?.string() == "yes")
    }

    @Test func nullIsExplicit() throws {
        let root = try YAMLParser.parse("a:\nb: ~\nc: null\nd: \"null\"\ne: ''\n")
        #expect(root["a"]?.isNull == true)
        #expect(root["b"]?.isNull == true)
        #expect(root["c"]?.isNull == true)
        #expect(root["d"]?.isNull == false)
        #expect(root["e"]?.isNull == false)
        #expect(throws: YAMLTypeError.self) { try root["c"]?.string() }
        #expect(try root["d"]?.string() == "null")
        #expect(try root["e"]?.string() == "")
    }

    @Test func numbers() throws {
        let root = try YAMLParser.parse("a: 5e-6\nb: 1.5\nc: -3\nd: 20_000\ne: .inf\nf: 1.0\ng: 0x10\nh: 1e\n")
        #expect(try root["a"]?.double() == 5e-6)
        #expect(try root["b"]?.double() == 1.5)
        #expect(try root["c"]?.int() == -3)
        #expect(try root["c"]?.double() == -3)
        #expect(try root["d"]?.int() == 20_000)
        #expect(throws: YAMLTypeError.self) { try root["e"]?.double() }
        let fraction = #expect(throws: YAMLTypeError.self) { try root["f"]?.int() }
        #expect(fraction?.hint == "write it without a fraction or exponent")
        #expect(throws: YAMLTypeError.self) { try root["g"]?.int() }
        #expect(throws: YAMLTypeError.self) { try root["h"]?.double() }
        #expect(throws: YAMLTypeError.self) { try YAMLParser.parse("a: 99999999999999999999").pairs?[0].value.int() }
    }

    @Test func typeErrorsNameWhatWasFound() throws {
        let root = try YAMLParser.parse("a: [1]\nb: {x: 1}\nc: hello\n")
        #expect(throws: YAMLTypeError.self) { try root["a"]?.int() }
        #expect(root["a"]?.kindDescription == "a list")
        #expect(root["b"]?.kindDescription == "a mapping")
        #expect(root["c"]?.kindDescription == "the text \"hello\"")
        let error = #expect(throws: YAMLTypeError.self) { try root["c"]?.sequence() }
        #expect(error?.mark == YAMLMark(line: 3, column: 4))
    }

    @Test func emptyDocumentIsNull() throws {
        #expect(try YAMLParser.parse("").isNull)
        #expect(try YAMLParser.parse("# only a comment\n").isNull)
    }

    @Test func duplicateKeysAreRefused() {
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse("a: 1\nb:\n  c: 1\n  c: 2\n") }
        #expect(error?.kind == .duplicateKey)
        #expect(error?.mark == YAMLMark(line: 4, column: 3))
        #expect(error?.message.contains("first at line 3, column 3") == true)
        // The same key in different mappings is fine.
        #expect(throws: Never.self) { try YAMLParser.parse("a: {c: 1}\nb: {c: 2}\n") }
    }

    @Test func syntaxErrorsCarryLibyamlsProblemAndMark() {
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse("a: 1\nb: [1, 2\nc: 3\n") }
        #expect(error?.kind == .syntax)
        #expect(error?.message.contains("did not find expected ',' or ']'") == true)
        #expect(error?.mark.line == 3)

        let tab = #expect(throws: YAMLError.self) { try YAMLParser.parse("a:\n\tb: 1\n") }
        #expect(tab?.kind == .syntax)
        #expect(tab?.mark.line == 2)
    }

    @Test func readerErrorsHaveALine() {
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse(bytes: Array("a: 1\nb: \u{1}\n".utf8)) }
        #expect(error?.kind == .syntax)
        #expect(error?.mark.line == 2)
        let utf8 = #expect(throws: YAMLError.self) { try YAMLParser.parse(bytes: [0x61, 0x3A, 0x20, 0xFF, 0x0A]) }
        #expect(utf8?.kind == .syntax)
    }

    @Test func onlyOneDocument() {
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse("a: 1\n---\nb: 2\n") }
        #expect(error?.kind == .multipleDocuments)
        #expect(error?.mark.line == 2)
        #expect(throws: Never.self) { try YAMLParser.parse("---\na: 1\n...\n") }
    }

    @Test func tagsOtherThanStringAreRefused() {
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse("a: !!python/object/apply:os.system [ls]\n") }
        #expect(error?.kind == .unsupportedTag)
        #expect(error?.mark == YAMLMark(line: 1, column: 4))
        #expect(throws: YAMLError.self) { try YAMLParser.parse("a: !custom x\n") }
        #expect(throws: Never.self) { try YAMLParser.parse("a: !!map {b: !!seq [1]}\n") }
    }

    @Test func complexKeysAreRefused() {
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse("? [a, b]\n: 1\n") }
        #expect(error?.kind == .unsupportedKey)
    }

    @Test func aliasesRepeatTheirAnchor() throws {
        let root = try YAMLParser.parse("base: &b {steps: 10}\ncopy: *b\n")
        #expect(root["copy"]?["steps"]?.scalarText == "10")
        #expect(root["copy"]?.mark == YAMLMark(line: 2, column: 7))
        let error = #expect(throws: YAMLError.self) { try YAMLParser.parse("a: *nowhere\n") }
        #expect(error?.kind == .unknownAnchor)
        // An alias to the collection it is inside is undefined (no cycles).
        #expect(throws: YAMLError.self) { try YAMLParser.parse("a: &x [1, *x]\n") }
    }
}
