// The config.json of a full transformers CLIPModel (text and vision towers, model_type "clip"),
// the model evaluation scores images and prompts with (CLIP-I, CLIP-T).
//
// Files in circulation were written by transformers 4.x, which dumped every generic setting
// (generation options such as max_length or top_k, pruned_heads, ...) into text_config and
// vision_config, and by older releases that put overrides in text_config_dict /
// vision_config_dict (transformers applies them over text_config / vision_config). Both are read.
// The generic settings do not change an encoder's computation and are ignored by name;
// anything else unknown is an error, as for the other configs.

/// transformers' CLIPVisionConfig.
public struct CLIPVisionConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numChannels: Int
    /// The side of the square input the position embeddings were trained for.
    public var imageSize: Int
    public var patchSize: Int
    public var hiddenAct: CLIPActivation
    public var layerNormEps: Float

    /// transformers' defaults (ViT-B/32).
    public init(hiddenSize: Int = 768, intermediateSize: Int = 3072, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, numChannels: Int = 3, imageSize: Int = 224, patchSize: Int = 32,
                hiddenAct: CLIPActivation = .quickGELU, layerNormEps: Float = 1e-5) {
        self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.numChannels = numChannels; self.imageSize = imageSize
        self.patchSize = patchSize; self.hiddenAct = hiddenAct; self.layerNormEps = layerNormEps
    }

    /// Patches along one side.
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Tokens the encoder sees: one per patch, plus the class token.
    public var tokenCount: Int { patchesPerSide * patchesPerSide + 1 }
}

/// The whole CLIPModel config: both towers and the shared embedding width.
public struct CLIPModelConfig: Sendable, Equatable {
    public var text: CLIPTextConfig
    public var vision: CLIPVisionConfig
    /// Width of the joint embedding space (text_projection and visual_projection outputs).
    public var projectionDim: Int
    /// The token whose position gives the text's pooled output, or nil for the position of the
    /// largest id. transformers takes the largest id when text_config.eos_token_id is 2 (the
    /// value the original OpenAI configs carry, from before the tokenizer's ids were known;
    /// in CLIP's vocabulary <|endoftext|> is the largest id), else the first eos_token_id.
    public var endOfTextTokenID: Int?
}

extension CLIPModelConfig {
    /// Settings every transformers 4.x config dump carries that do not change the computation
    /// of an encoder: generation options, bookkeeping, token ids, initialisation.
    static let genericKeys = [
        "return_dict", "output_hidden_states", "output_attentions", "torchscript", "torch_dtype", "dtype",
        "use_bfloat16", "tf_legacy_loss", "pruned_heads", "tie_word_embeddings", "chunk_size_feed_forward",
        "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size", "add_cross_attention",
        "tie_encoder_decoder", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
        "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p",
        "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size",
        "bad_words_ids", "num_return_sequences", "output_scores", "return_dict_in_generate",
        "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
        "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "architectures",
        "finetuning_task", "id2label", "label2id", "tokenizer_class", "prefix", "bos_token_id", "pad_token_id",
        "sep_token_id", "decoder_start_token_id", "task_specific_params", "problem_type", "name_or_path",
        "transformers_version", "initializer_range", "initializer_factor", "use_cache", "gradient_checkpointing",
        "output_past", "model_type", "projection_dim",
    ]

    /// Reads `path` (a CLIPModel folder's config.json).
    public init(contentsOf path: String) throws { try self.init(json: JSONValue.read(path), path: path) }

    public init(json: JSONValue, path: String = "config.json") throws {
        var r = try ConfigReader(json, path: path)
        let modelType = try r.string("model_type", default: "clip")
        guard modelType == "clip" else {
            throw r.unsupported("model_type", "expected a full CLIP model (\"clip\", with text_config and vision_config)")
        }
        let architectures = try r.stringList("architectures", default: ["CLIPModel"])
        if let a = architectures.first(where: { $0 != "CLIPModel" }) {
            throw CheckpointError.unsupportedConfig(path: path, key: "architectures", value: "\"\(a)\"", reason: "expected CLIPModel")
        }
        projectionDim = try r.int("projection_dim", default: 512)
        if projectionDim <= 0 {
            throw CheckpointError.badConfigValue(path: path, key: "projection_dim", expected: "a positive integer", found: "\(projectionDim)")
        }
        let textJSON = try Self.subConfig(&r, "text_config", path: path)
        let visionJSON = try Self.subConfig(&r, "vision_config", path: path)
        // The logit scale is a tensor; its initial value does not matter to a loaded model.
        r.ignore(["logit_scale_init_value", "initializer_factor", "dtype", "torch_dtype", "transformers_version",
                  "output_attentions", "output_hidden_states", "return_dict", "use_cache", "tie_word_embeddings",
                  "name_or_path", "_name_or_path", "text_config_dict", "vision_config_dict"])
        try r.finish()
        (text, endOfTextTokenID) = try Self.readText(textJSON, path: path + " text_config")
        vision = try Self.readVision(visionJSON, path: path + " vision_config")
    }

    /// text_config (or vision_config) with the entries of text_config_dict laid over it.
    static func subConfig(_ r: inout ConfigReader, _ key: String, path: String) throws -> JSONValue {
        var merged: [String: JSONValue] = [:]
        for name in [key, key + "_dict"] {
            guard let v = r.raw(name), !v.isNull else { continue }
            guard case .object(let o) = v else {
                throw CheckpointError.badConfigValue(path: path, key: name, expected: "an object", found: v.description)
            }
            merged.merge(o) { _, new in new }
        }
        r.ignore([key])
        return .object(merged)
    }

    static func readText(_ json: JSONValue, path: String) throws -> (CLIPTextConfig, Int?) {
        var r = try ConfigReader(json, path: path)
        let modelType = try r.string("model_type", default: "clip_text_model")
        guard modelType == "clip_text_model" else { throw r.unsupported("model_type", "expected clip_text_model") }
        let c = try CLIPTextConfig.readEncoder(&r)
        let eos = try r.int("eos_token_id", default: 49407)
        r.ignore(genericKeys)
        try r.finish()
        do { try c.validate() } catch let e as ModelConfigError { throw CheckpointError(e, path: path) }
        return (c, eos == 2 ? nil : eos)
    }

    static func readVision(_ json: JSONValue, path: String) throws -> CLIPVisionConfig {
        var r = try ConfigReader(json, path: path)
        let modelType = try r.string("model_type", default: "clip_vision_model")
        guard modelType == "clip_vision_model" else { throw r.unsupported("model_type", "expected clip_vision_model") }
        var c = CLIPVisionConfig()
        c.hiddenSize = try r.int("hidden_size", default: 768)
        c.intermediateSize = try r.int("intermediate_size", default: 3072)
        c.numHiddenLayers = try r.int("num_hidden_layers", default: 12)
        c.numAttentionHeads = try r.int("num_attention_heads", default: 12)
        c.numChannels = try r.int("num_channels", default: 3)
        c.imageSize = try r.int("image_size", default: 224)
        c.patchSize = try r.int("patch_size", default: 32)
        c.hiddenAct = try r.clipActivation()
        c.layerNormEps = try r.float("layer_norm_eps", default: 1e-5)
        try r.requireNoCLIPDropout()
        r.ignore(genericKeys + ["eos_token_id"])   // the generic token ids; images have none
        try r.finish()
        let sizes = ["hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
                     "num_hidden_layers": c.numHiddenLayers, "num_attention_heads": c.numAttentionHeads,
                     "image_size": c.imageSize, "patch_size": c.patchSize]
        for (key, value) in sizes.sorted(by: { $0.key < $1.key }) where value <= 0 {
            throw CheckpointError.badConfigValue(path: path, key: key, expected: "a positive integer", found: "\(value)")
        }
        if c.numChannels != 3 {
            throw CheckpointError.unsupportedConfig(path: path, key: "num_channels", value: "\(c.numChannels)", reason: "images are RGB: expected 3")
        }
        if c.hiddenSize % c.numAttentionHeads != 0 {
            throw CheckpointError.invalidConfig(path: path, key: "num_attention_heads",
                                                reason: "does not divide hidden_size \(c.hiddenSize)")
        }
        if c.imageSize % c.patchSize != 0 {
            throw CheckpointError.invalidConfig(path: path, key: "patch_size",
                                                reason: "\(c.patchSize) does not divide image_size \(c.imageSize)")
        }
        return c
    }
}
