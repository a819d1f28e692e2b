import Foundation

/// CLIP's byte-level BPE tokenizer, giving the ids transformers' `CLIPTokenizer` gives.
///
/// encode(text): special tokens (<|startoftext|>, <|endoftext|>, the pad token) are split out of
/// the raw text first; the rest is normalized (NFC, whitespace, lower case), added tokens (textual
/// inversion's placeholders, matched case-insensitively like the normalized text) are split out,
/// the remainder is cut into words by CLIP's pattern, and each word is byte-pair encoded. The ids
/// are wrapped in start/end tokens, truncated to `maxLength` (77) and padded with the pad token.
public struct CLIPTokenizer: Sendable {
    public static let startToken = "<|startoftext|>"
    public static let endToken = "<|endoftext|>"

    /// Sequence length the text encoder takes, start and end tokens included.
    public let maxLength: Int
    public let startID: Int
    public let endID: Int
    /// SD 1.x pads with <|endoftext|> (49407), SD 2.x with "!" (0): the checkpoint's config says.
    public let padToken: String
    public let padID: Int

    /// Follow OpenAI's original CLIP and un-escape HTML entities (&amp; …) before tokenizing.
    /// Off by default: the diffusers/transformers reference does not.
    public var unescapesHTML: Bool {
        get { normalizer.unescapesHTML }
        set { normalizer.unescapesHTML = newValue }
    }

    private var normalizer = CLIPTextNormalizer()
    private let encoder: BytePairEncoder
    private let tokenIDs: [String: Int]
    private let tokens: [String]                       // id → token, base vocabulary
    private let specialTokens: [TokenMatcher.Entry]    // matched in raw text
    private var addedTokens: [TokenMatcher.Entry] = [] // matched in normalized text
    private var addedByID: [Int: String] = [:]

    /// Number of ids, added tokens included (the text encoder's embedding table must be as large).
    public var vocabularySize: Int { max(tokens.count, (addedByID.keys.max() ?? -1) + 1) }

    /// Loads vocab.json and merges.txt; `padToken` must be in the vocabulary.
    public init(vocabURL: URL, mergesURL: URL, padToken: String = CLIPTokenizer.endToken,
                maxLength: Int = 77) throws {
        let vocabulary = try CLIPTokenizer.readVocabulary(vocabURL)
        let merges = try CLIPTokenizer.readMerges(mergesURL)
        try self.init(vocabulary: vocabulary, merges: merges, mergesPath: mergesURL.path,
                      padToken: padToken, maxLength: maxLength, vocabPath: vocabURL.path)
    }

    init(vocabulary: [String: Int], merges: [(line: Int, left: String, right: String)], mergesPath: String,
         padToken: String, maxLength: Int, vocabPath: String) throws {
        encoder = try BytePairEncoder(vocabulary: vocabulary, mergeLines: merges, file: mergesPath)
        tokenIDs = vocabulary
        var byID = [String](repeating: "", count: (vocabulary.values.max() ?? -1) + 1)
        for (token, id) in vocabulary where id >= 0 { byID[id] = token }
        tokens = byID
        func require(_ token: String) throws -> Int {
            guard let id = vocabulary[token] else {
                throw TokenizerError.invalidFile(vocabPath, "the special token \"\(token)\" is not in the vocabulary")
            }
            return id
        }
        startID = try require(CLIPTokenizer.startToken)
        endID = try require(CLIPTokenizer.endToken)
        self.padToken = padToken
        padID = try require(padToken)
        guard maxLength >= 2 else {
            throw TokenizerError.invalidFile(vocabPath, "model_max_length \(maxLength) leaves no room for the start and end tokens")
        }
        self.maxLength = maxLength
        var specials = [TokenMatcher.Entry(CLIPTokenizer.startToken, startID), TokenMatcher.Entry(CLIPTokenizer.endToken, endID)]
        if padToken != CLIPTokenizer.endToken { specials.append(TokenMatcher.Entry(padToken, padID)) }
        specialTokens = specials
    }

    // MARK: Added tokens

    /// Adds tokens (e.g. "<sks>") that are matched whole before BPE, and returns their ids. A token
    /// the tokenizer already knows keeps its id. Matching is on normalized text, so "<SKS>" in a
    /// prompt finds "<sks>", as in transformers.
    @discardableResult
    public mutating func addTokens(_ newTokens: [String]) -> [Int] {
        newTokens.map { token in
            if let id = id(of: token) { return id }
            let id = vocabularySize
            registerAddedToken(token, id: id)
            return id
        }
    }

    /// Records an added token under its normalized form, the form it is matched and decoded in.
    mutating func registerAddedToken(_ token: String, id: Int) {
        let normalized = normalizer.normalizeForMatching(token)
        addedTokens.append(TokenMatcher.Entry(normalized, id))
        addedByID[id] = normalized
    }

    /// The id of a vocabulary token, or of an added token as it was added ("MyStyle" or "mystyle").
    public func id(of token: String) -> Int? {
        if let id = tokenIDs[token] { return id }
        let normalized = normalizer.normalizeForMatching(token)
        return addedTokens.first { $0.text == normalized }?.id
    }

    // MARK: Encoding

    /// Token ids of `text` without start/end tokens, truncation or padding.
    public func tokenize(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in TokenMatcher.split(text, on: specialTokens) {
            switch piece {
            case .token(let id): ids.append(id)
            case .text(let raw):
                for inner in TokenMatcher.split(normalizer.normalize(raw), on: addedTokens) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let clean):
                        for word in CLIPPreTokenizer.words(clean) {
                            ids.append(contentsOf: encoder.encode(word).lazy.map(Int.init))
                        }
                    }
                }
            }
        }
        return ids
    }

    /// The text encoder's input: start token, the ids (cut so the end token still fits in
    /// `maxLength`), end token, then pad tokens up to `maxLength` when `padding` is on.
    public func encode(_ text: String, padding: Bool = true) -> [Int] {
        var ids = [startID] + tokenize(text).prefix(maxLength - 2) + [endID]
        if padding { ids += [Int](repeating: padID, count: maxLength - ids.count) }
        return ids
    }

    /// How many of the prompt's tokens `encode` drops (to warn users about long prompts).
    public func truncatedCount(_ text: String) -> Int { max(0, tokenize(text).count - (maxLength - 2)) }

    // MARK: Decoding

    /// Text of `ids`: byte-level tokens turned back into UTF-8, "</w>" into a space.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        let special = Set(specialTokens.map(\.id))
        for id in ids {
            if skipSpecialTokens && special.contains(id) { continue }
            if let added = addedByID[id] { bytes += Array(added.utf8); continue }
            guard id >= 0 && id < tokens.count else { continue }
            let token = tokens[id]
            if special.contains(id) { bytes += Array(token.utf8); continue }
            for character in token.replacingOccurrences(of: BytePairEncoder.endOfWord, with: " ") {
                if character == " " { bytes.append(0x20) } else if let b = ByteLevelAlphabet.bytes[character] { bytes.append(b) }
            }
        }
        return CLIPTokenizer.stripPythonWhitespace(String(decoding: bytes, as: UTF8.self))
    }

    /// Python's str.strip(), which the reference decode ends with: Unicode whitespace and the
    /// separators U+001C…U+001F, but not zero-width characters such as U+200B.
    static func stripPythonWhitespace(_ text: String) -> String {
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }
}

extension CLIPTextNormalizer {
    /// Added tokens are stored normalized so they match the normalized prompt.
    func normalizeForMatching(_ token: String) -> String {
        var plain = self
        plain.unescapesHTML = false
        return plain.normalize(token)
    }
}

// MARK: - Files

extension CLIPTokenizer {
    static func readVocabulary(_ url: URL) throws -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw TokenizerError.missingFile(url.path) }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw TokenizerError.invalidFile(url.path, "expected a JSON object mapping each token to its id")
        }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(dictionary.count)
        for (token, value) in dictionary {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw TokenizerError.invalidFile(url.path, "token \"\(token)\" has id \(value); expected a non-negative integer")
            }
            vocabulary[token] = id
        }
        return vocabulary
    }

    static func readMerges(_ url: URL) throws -> [(line: Int, left: String, right: String)] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw TokenizerError.missingFile(url.path) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenizerError.invalidFile(url.path, "not UTF-8 text")
        }
        var merges: [(line: Int, left: String, right: String)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (index == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                throw TokenizerError.invalidFile(url.path, "line \(index + 1): expected two tokens separated by a space, found \"\(line)\"")
            }
            merges.append((index + 1, String(parts[0]), String(parts[1])))
        }
        return merges
    }
}
