import Foundation
import Testing
@testable import Diffusion
import TestSupport

/// The tokenizer against transformers' CLIPTokenizer (Tests/Fixtures/diffusion/tokenizer/cases.json).
@Suite struct TokenizerTests {
    /// CLIP's vocabulary, committed under assets/clip.
    static let clipVocabulary = TestFixtures.repositoryRoot.appendingPathComponent("assets/clip")
    static let vocab = clipVocabulary.appendingPathComponent("vocab.json")
    static let merges = clipVocabulary.appendingPathComponent("merges.txt")

    /// Loaded once: parsing the 49408-entry vocabulary takes seconds in a debug build.
    static let loadedSD1 = Result { try CLIPTokenizer(vocabURL: vocab, mergesURL: merges) }
    static func sd1() throws -> CLIPTokenizer { try loadedSD1.get() }

    func checkCases(_ tokenizer: CLIPTokenizer, _ group: String) throws {
        let doc = try TestFixtures.json("diffusion/tokenizer/cases.json")
        let section = try #require(doc[group] as? [String: Any])
        let cases = try #require(section["cases"] as? [[String: Any]])
        #expect(!cases.isEmpty)
        for c in cases {
            let text = try #require(c["text"] as? String)
            let ids = try #require(c["ids"] as? [Int])
            let inputIDs = try #require(c["input_ids"] as? [Int])
            #expect([tokenizer.startID] + tokenizer.tokenize(text) + [tokenizer.endID] == ids, "\(group): \(text.debugDescription)")
            #expect(tokenizer.encode(text) == inputIDs, "\(group) padded: \(text.debugDescription)")
            #expect(tokenizer.decode(ids) == c["decoded"] as? String, "\(group) decode: \(text.debugDescription)")
            #expect(tokenizer.decode(ids, skipSpecialTokens: true) == c["decoded_skip_special"] as? String,
                    "\(group) decode skipping specials: \(text.debugDescription)")
        }
    }

    @Test func knownIDsOfAPhotoOfACat() throws {
        let tokenizer = try Self.sd1()
        #expect(tokenizer.encode("a photo of a cat", padding: false) == [49406, 320, 1125, 539, 320, 2368, 49407])
        #expect(tokenizer.vocabularySize == 49408)
        #expect(tokenizer.padID == 49407)
    }

    @Test func stableDiffusion1PromptsMatchTransformers() throws {
        try checkCases(try Self.sd1(), "sd1")
    }

    @Test func seededRandomStringsMatchTransformers() throws {
        try checkCases(try Self.sd1(), "random")
    }

    @Test func stableDiffusion2PadsWithExclamationMark() throws {
        let tokenizer = try CLIPTokenizer(vocabURL: Self.vocab, mergesURL: Self.merges, padToken: "!")
        #expect(tokenizer.padID == 0)
        try checkCases(tokenizer, "sd2")
    }

    @Test func addedTokensAreMatchedBeforeBPE() throws {
        var tokenizer = try Self.sd1()
        let doc = try TestFixtures.json("diffusion/tokenizer/cases.json")
        let section = try #require(doc["added"] as? [String: Any])
        let ids = tokenizer.addTokens(try #require(section["tokens"] as? [String]))
        #expect(ids == section["ids"] as? [Int])
        #expect(tokenizer.vocabularySize == 49411)
        // Adding again returns the same ids and grows nothing.
        #expect(tokenizer.addTokens(["<sks>"]) == [ids[0]])
        #expect(tokenizer.vocabularySize == 49411)
        try checkCases(tokenizer, "added")
    }

    @Test func truncatesLongPromptsTo77() throws {
        let tokenizer = try Self.sd1()
        let long = String(repeating: "a photo of a cat, ", count: 30)
        let ids = tokenizer.encode(long)
        #expect(ids.count == 77)
        #expect(ids.first == 49406 && ids.last == 49407)
        #expect(tokenizer.truncatedCount(long) == 30 * 6 - 75)
        #expect(tokenizer.truncatedCount("a cat") == 0)
    }

    @Test func htmlUnescapingIsAnOption() throws {
        var tokenizer = try Self.sd1()
        let doc = try TestFixtures.json("diffusion/tokenizer/cases.json")
        let section = try #require(doc["html"] as? [String: Any])
        let text = try #require(section["text"] as? String)
        let expected = try #require(section["ids"] as? [Int])
        #expect(tokenizer.encode(text, padding: false) != expected)
        tokenizer.unescapesHTML = true
        #expect(tokenizer.encode(text, padding: false) == expected)
    }

    @Test func loadsAStableDiffusion2TokenizerFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Self.clipVocabulary.appendingPathComponent(name),
                                             to: folder.appendingPathComponent(name))
        }
        let source = TestFixtures.url("diffusion/tokenizer/sd2_folder")
        for name in ["tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let tokenizer = try CLIPTokenizer(folder: folder)
        #expect(tokenizer.padToken == "!" && tokenizer.padID == 0)
        #expect(tokenizer.maxLength == 77)
        #expect(tokenizer.id(of: "<cat-toy>") == 49408)
        #expect(tokenizer.tokenize("a <Cat-Toy> toy") == [320, 49408, 5988])
        #expect(tokenizer.vocabularySize == 49409)
        try checkCases(tokenizer, "sd2")
    }

    @Test func missingAndMalformedFilesAreNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: TokenizerError.missingFile(folder.appendingPathComponent("vocab.json").path)) {
            try CLIPTokenizer(folder: folder)
        }
        try FileManager.default.copyItem(at: Self.vocab, to: folder.appendingPathComponent("vocab.json"))
        try "#version: 0.2\ni n\nthree parts here\n".write(to: folder.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        do {
            _ = try CLIPTokenizer(folder: folder)
            Issue.record("a malformed merges.txt was accepted")
        } catch let error as TokenizerError {
            #expect(error.description.contains("merges.txt: line 3"))
        }
    }
}

/// Tokenizer folders as transformers 5 saves them: one tokenizer.json, no vocab.json/merges.txt.
@Suite struct TokenizerJSONFolderTests {
    @Test func loadsVocabularyMergesAndAddedTokensFromTokenizerJSON() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Rebuild the tokenizers-library layout from the committed vocabulary.
        let vocab = try JSONSerialization.jsonObject(with: Data(contentsOf: TokenizerTests.vocab))
        let mergeLines = try String(contentsOf: TokenizerTests.merges, encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: " ").map(String.init) }
        let document: [String: Any] = [
            "model": ["type": "BPE", "end_of_word_suffix": "</w>", "vocab": vocab, "merges": mergeLines],
            "added_tokens": [
                ["id": 49406, "content": "<|startoftext|>", "special": true],
                ["id": 49407, "content": "<|endoftext|>", "special": true],
                ["id": 49408, "content": "MyStyle", "special": false, "normalized": true],
            ],
        ]
        try JSONSerialization.data(withJSONObject: document).write(to: folder.appendingPathComponent("tokenizer.json"))
        try #"{"pad_token": "<|endoftext|>", "model_max_length": 77}"#.write(
            to: folder.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)

        let tokenizer = try CLIPTokenizer(folder: folder)
        let reference = try TokenizerTests.sd1()
        for text in ["a photo of a cat", "Hello, World!!! it's 1,000 cafés"] {
            #expect(tokenizer.encode(text) == reference.encode(text), "\(text)")
        }
        // Matched case-insensitively, decoded in its normalized form, as transformers does.
        #expect(tokenizer.tokenize("in mystyle and MyStyle") == [530, 49408, 537, 49408])
        #expect(tokenizer.id(of: "MyStyle") == 49408)
        #expect(tokenizer.decode([49408, 3086]) == "mystylepainting")
        #expect(tokenizer.vocabularySize == 49409)
    }
}
