import TensorEngine

/// A textual-inversion embedding: the token people write in prompts and its vectors [n, D]
/// (n ≥ 1). A file reader (diffusers learned_embeds or A1111 .safetensors) produces this.
public struct TokenEmbeddings: @unchecked Sendable {
    public var token: String
    public var vectors: Tensor
    public init(token: String, vectors: Tensor) {
        precondition(vectors.rank == 2 && vectors.shape[0] >= 1, "an embedding needs vectors [n, D], got \(vectors.shape)")
        self.token = token; self.vectors = vectors
    }

    /// The tokens it occupies: "<tok>", then "<tok>_1" … for multi-vector embeddings, as
    /// diffusers' load_textual_inversion names them.
    public var tokenNames: [String] {
        (0..<vectors.shape[0]).map { $0 == 0 ? token : "\(token)_\($0)" }
    }

    /// The prompt with every occurrence of the token widened to all its vector tokens
    /// (diffusers' maybe_convert_prompt), so "<tok>" reaches every vector.
    public func expand(_ prompt: String) -> String {
        let names = tokenNames
        guard names.count > 1 else { return prompt }
        return prompt.replacingAll(token, with: names.joined(separator: " "))
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = "", rest = self[...]
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]; out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension AdapterApplication {
    /// Adds each embedding's tokens to the tokenizer and its vectors as the text encoder's
    /// appended rows. The tokenizer must hand out ids right after the encoder's vocabulary
    /// (true of CLIP: 49408 tokens both sides); otherwise the ids would point at trained rows.
    public static func addEmbeddings(_ embeddings: [TokenEmbeddings], tokenizer: inout CLIPTokenizer,
                                     textEncoder: CLIPTextModel) throws {
        let d = textEncoder.config.hiddenSize
        var rows = textEncoder.appendedTokenEmbeddings.map { [$0] } ?? []
        var nextID = textEncoder.config.vocabSize + (textEncoder.appendedTokenEmbeddings?.shape[0] ?? 0)
        for e in embeddings {
            guard e.vectors.shape[1] == d else {
                throw AdapterApplicationError("embedding \"\(e.token)\" has vectors of width \(e.vectors.shape[1]); this text encoder's width is \(d) (an embedding for another model family?)")
            }
            for name in e.tokenNames where tokenizer.id(of: name) != nil {
                throw AdapterApplicationError("embedding token \"\(name)\" is already known to the tokenizer; rename the embedding")
            }
            let ids = tokenizer.addTokens(e.tokenNames)
            guard ids == Array(nextID..<(nextID + ids.count)) else {
                throw AdapterApplicationError("embedding \"\(e.token)\": the tokenizer gave ids \(ids), but the text encoder's next free rows are \(nextID)…; tokenizer (\(tokenizer.vocabularySize) tokens) and text encoder (\(textEncoder.config.vocabSize)) disagree")
            }
            nextID += ids.count
            rows.append(e.vectors)
        }
        if !rows.isEmpty { textEncoder.appendedTokenEmbeddings = concat(rows, axis: 0) }
    }
}
