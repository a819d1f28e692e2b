import Foundation

extension CLIPTokenizer {
    /// Loads a checkpoint's tokenizer/ folder as diffusers lays it out: vocab.json and merges.txt,
    /// and, when present, the settings transformers writes beside them:
    ///
    /// - tokenizer_config.json: pad_token, model_max_length, added_tokens_decoder (tokens added
    ///   after training, e.g. by textual inversion);
    /// - special_tokens_map.json: pad_token again, taking precedence (SD 2.x says "!" here);
    /// - added_tokens.json: {token: id}, the older way to record added tokens.
    ///
    /// Folders saved by transformers 5 hold tokenizer.json instead of vocab.json and merges.txt;
    /// its BPE model and added tokens are read then.
    ///
    /// A token string may be written plainly or as {"content": ...}.
    public init(folder: URL) throws {
        let config = try CLIPTokenizer.readOptionalObject(folder.appendingPathComponent("tokenizer_config.json"))
        let specialMap = try CLIPTokenizer.readOptionalObject(folder.appendingPathComponent("special_tokens_map.json"))
        let padToken = CLIPTokenizer.tokenString(specialMap?["pad_token"])
            ?? CLIPTokenizer.tokenString(config?["pad_token"]) ?? CLIPTokenizer.endToken
        // transformers writes a huge sentinel when no length was set; CLIP's context is 77.
        var maxLength = 77
        if let value = (config?["model_max_length"] as? NSNumber)?.doubleValue, value >= 2, value <= 4096 {
            maxLength = Int(value)
        }
        let vocabURL = folder.appendingPathComponent("vocab.json")
        let mergesURL = folder.appendingPathComponent("merges.txt")
        let combinedURL = folder.appendingPathComponent("tokenizer.json")
        var added: [(String, Int)] = []
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: vocabURL.path) && fileManager.fileExists(atPath: combinedURL.path) {
            let model = try CLIPTokenizer.readTokenizerJSON(combinedURL)
            try self.init(vocabulary: model.vocabulary, merges: model.merges, mergesPath: combinedURL.path,
                          padToken: padToken, maxLength: maxLength, vocabPath: combinedURL.path)
            added += model.added
        } else {
            try self.init(vocabURL: vocabURL, mergesURL: mergesURL, padToken: padToken, maxLength: maxLength)
        }

        if let decoder = config?["added_tokens_decoder"] as? [String: Any] {
            for (key, value) in decoder {
                guard let id = Int(key), let content = CLIPTokenizer.tokenString(value) else {
                    throw TokenizerError.invalidFile(folder.appendingPathComponent("tokenizer_config.json").path,
                                                     "added_tokens_decoder entry \"\(key)\": expected an integer id and a token with \"content\"")
                }
                added.append((content, id))
            }
        }
        let addedFile = folder.appendingPathComponent("added_tokens.json")
        if let legacy = try CLIPTokenizer.readOptionalObject(addedFile) {
            for (content, value) in legacy {
                guard let id = (value as? NSNumber)?.intValue else {
                    throw TokenizerError.invalidFile(addedFile.path, "token \"\(content)\" has id \(value); expected an integer")
                }
                added.append((content, id))
            }
        }
        // Tokens already in vocab.json (the specials) are listed too; only new ones are matched whole.
        for (content, id) in added.sorted(by: { $0.1 < $1.1 }) where self.id(of: content) == nil {
            registerAddedToken(content, id: id)
        }
    }

    /// The parts of a tokenizers-library tokenizer.json this tokenizer uses: the BPE model's
    /// vocabulary and merges (written as "a b" strings or as [a, b] pairs) and the added tokens.
    static func readTokenizerJSON(_ url: URL) throws
        -> (vocabulary: [String: Int], merges: [(line: Int, left: String, right: String)], added: [(String, Int)]) {
        guard let root = try readOptionalObject(url) else { throw TokenizerError.missingFile(url.path) }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else {
            throw TokenizerError.invalidFile(url.path, "\"model\": expected a BPE model")
        }
        if let suffix = model["end_of_word_suffix"] as? String, suffix != BytePairEncoder.endOfWord {
            throw TokenizerError.invalidFile(url.path, "\"model.end_of_word_suffix\" is \"\(suffix)\"; CLIP's BPE uses \"</w>\"")
        }
        guard let vocabObject = model["vocab"] as? [String: Any] else {
            throw TokenizerError.invalidFile(url.path, "\"model.vocab\": expected an object mapping tokens to ids")
        }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(vocabObject.count)
        for (token, value) in vocabObject {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw TokenizerError.invalidFile(url.path, "\"model.vocab\": token \"\(token)\" has id \(value); expected a non-negative integer")
            }
            vocabulary[token] = id
        }
        guard let mergeList = model["merges"] as? [Any] else {
            throw TokenizerError.invalidFile(url.path, "\"model.merges\": expected a list")
        }
        var merges: [(line: Int, left: String, right: String)] = []
        merges.reserveCapacity(mergeList.count)
        for (index, entry) in mergeList.enumerated() {
            let parts: [String]
            if let pair = entry as? [String] { parts = pair }
            else if let text = entry as? String { parts = text.split(separator: " ").map(String.init) }
            else { parts = [] }
            guard parts.count == 2 else {
                throw TokenizerError.invalidFile(url.path, "\"model.merges\" entry \(index): expected two tokens")
            }
            merges.append((index + 1, parts[0], parts[1]))
        }
        var added: [(String, Int)] = []
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = entry["content"] as? String, let id = (entry["id"] as? NSNumber)?.intValue else {
                throw TokenizerError.invalidFile(url.path, "\"added_tokens\": expected entries with \"id\" and \"content\"")
            }
            added.append((content, id))
        }
        return (vocabulary, merges, added)
    }

    static func readOptionalObject(_ url: URL) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TokenizerError.invalidFile(url.path, "expected a JSON object")
        }
        return object
    }

    static func tokenString(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let d = value as? [String: Any] { return d["content"] as? String }
        return nil
    }
}
