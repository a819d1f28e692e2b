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
        try self.init(vocabURL: folder.appendingPathComponent("vocab.json"),
                      mergesURL: folder.appendingPathComponent("merges.txt"),
                      padToken: padToken, maxLength: maxLength)

        var added: [(String, Int)] = []
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
