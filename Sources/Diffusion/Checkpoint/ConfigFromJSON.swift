// The model configs (Models/Configs.swift) from the config.json files diffusers and
// transformers write, old and new: a missing key takes diffusers'/transformers' default (the
// class's __init__ default, not SD 1.5's), an int may stand for a per-block list, and a value
// that would change the architecture to something this code does not build is an error naming
// the key. `validate()` of each config runs last.

extension UNetConfig {
    /// diffusers' UNet2DConditionModel config.json (unet/config.json).
    public init(json: JSONValue, path: String = "unet/config.json") throws {
        var r = try ConfigReader(json, path: path)
        if let cls = try r.optionalString("_class_name"), cls != "UNet2DConditionModel" {
            throw r.unsupported("_class_name", "expected UNet2DConditionModel")
        }
        if let t = try r.optionalString("addition_embed_type") {
            throw CheckpointError.unsupportedConfig(path: path, key: "addition_embed_type", value: "\"\(t)\"",
                reason: t == "text_time" ? "SDXL is not supported yet" : "added conditioning is not supported")
        }
        if let t = try r.optionalString("class_embed_type") {
            throw CheckpointError.unsupportedConfig(path: path, key: "class_embed_type", value: "\"\(t)\"",
                reason: "class-conditioned UNets (upscalers, unCLIP) are not supported")
        }
        let blocks = try r.intList("block_out_channels", default: [320, 640, 1280, 1280])
        let n = blocks.count
        var c = UNetConfig()
        c.blockOutChannels = blocks
        c.inChannels = try r.int("in_channels", default: 4)
        c.outChannels = try r.int("out_channels", default: 4)
        c.downBlockTypes = try r.stringList("down_block_types", default: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"])
        c.upBlockTypes = try r.stringList("up_block_types", default: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
        // Missing: diffusers' default mid block; an explicit null: no mid block.
        c.midBlockType = r.raw("mid_block_type") == nil ? "UNetMidBlock2DCrossAttn" : try r.optionalString("mid_block_type")
        c.layersPerBlock = try r.perBlock("layers_per_block", blocks: n) ?? Array(repeating: 2, count: n)
        // attention_head_dim: an int in SD 1.x configs, a list in SD 2.x ones.
        c.attentionHeadDim = try r.perBlock("attention_head_dim", blocks: n) ?? Array(repeating: 8, count: n)
        c.numAttentionHeads = try r.perBlock("num_attention_heads", blocks: n)
        if case .array = r.raw("cross_attention_dim") {
            throw r.unsupported("cross_attention_dim", "a per-block cross-attention width is not supported; expected one integer")
        }
        c.crossAttentionDim = try r.int("cross_attention_dim", default: 1280)
        c.useLinearProjection = try r.bool("use_linear_projection", default: false)
        c.upcastAttention = try r.bool("upcast_attention", default: false)
        if case .array(let a) = r.raw("transformer_layers_per_block"), a.contains(where: { if case .array = $0 { return true } else { return false } }) {
            throw r.unsupported("transformer_layers_per_block", "nested per-layer depths (SDXL refiner style) are not supported")
        }
        c.transformerLayersPerBlock = try r.perBlock("transformer_layers_per_block", blocks: n) ?? Array(repeating: 1, count: n)
        c.normNumGroups = try r.int("norm_num_groups", default: 32)
        c.normEps = try r.float("norm_eps", default: 1e-5)
        c.flipSinToCos = try r.bool("flip_sin_to_cos", default: true)
        c.freqShift = try r.float("freq_shift", default: 0)
        c.timeEmbeddingDim = try r.optionalInt("time_embedding_dim")
        c.downsamplePadding = try r.int("downsample_padding", default: 1)
        c.resnetTimeScaleShift = try r.string("resnet_time_scale_shift", default: "default")
        c.onlyCrossAttention = try r.bool("only_cross_attention", default: false)
        c.dualCrossAttention = try r.bool("dual_cross_attention", default: false)
        c.centerInputSample = try r.bool("center_input_sample", default: false)
        c.actFn = try r.string("act_fn", default: "silu")
        c.timeEmbeddingType = try r.string("time_embedding_type", default: "positional")
        c.midBlockScaleFactor = try r.float("mid_block_scale_factor", default: 1)

        // Options the model code does not have: accepted only at their default.
        let null: JSONValue = .null
        try r.require("conv_in_kernel", in: [.number(3)], reason: "only 3x3 conv_in is implemented")
        try r.require("conv_out_kernel", in: [.number(3)], reason: "only 3x3 conv_out is implemented")
        try r.require("attention_type", in: [.string("default")], reason: "only \"default\" attention is implemented")
        try r.require("resnet_out_scale_factor", in: [.number(1)], reason: "only 1.0 is implemented")
        try r.require("dropout", in: [.number(0)], reason: "dropout in the UNet is not implemented")
        for key in ["time_embedding_act_fn", "timestep_post_act", "time_cond_proj_dim", "encoder_hid_dim",
                    "encoder_hid_dim_type", "cross_attention_norm", "num_class_embeds", "reverse_transformer_layers_per_block",
                    "addition_time_embed_dim", "projection_class_embeddings_input_dim"] {
            try r.require(key, in: [null], reason: "only null is implemented")
        }
        for key in ["class_embeddings_concat", "resnet_skip_time_act", "mid_block_only_cross_attention"] {
            try r.require(key, in: [null, .bool(false)], reason: "only false is implemented")
        }
        // Only read with addition_embed_type "text" (refused above), and the latent size a
        // pipeline defaults to: neither changes the network.
        r.ignore(["addition_embed_type_num_heads", "sample_size"])
        try r.finish()
        do { try c.validate() } catch let e as ModelConfigError { throw CheckpointError(e, path: path) }
        self = c
    }

    public init(contentsOf path: String) throws { try self.init(json: JSONValue.read(path), path: path) }
}

extension VAEConfig {
    /// diffusers' AutoencoderKL config.json (vae/config.json).
    public init(json: JSONValue, path: String = "vae/config.json") throws {
        var r = try ConfigReader(json, path: path)
        if let cls = try r.optionalString("_class_name"), cls != "AutoencoderKL" {
            throw r.unsupported("_class_name", "expected AutoencoderKL")
        }
        var c = VAEConfig()
        c.blockOutChannels = try r.intList("block_out_channels", default: [64])
        let n = c.blockOutChannels.count
        let down = try r.stringList("down_block_types", default: Array(repeating: "DownEncoderBlock2D", count: n))
        let up = try r.stringList("up_block_types", default: Array(repeating: "UpDecoderBlock2D", count: n))
        if down.count != n || down.contains(where: { $0 != "DownEncoderBlock2D" }) {
            throw r.unsupported("down_block_types", "expected \(n) × DownEncoderBlock2D, one per block_out_channels entry")
        }
        if up.count != n || up.contains(where: { $0 != "UpDecoderBlock2D" }) {
            throw r.unsupported("up_block_types", "expected \(n) × UpDecoderBlock2D, one per block_out_channels entry")
        }
        c.inChannels = try r.int("in_channels", default: 3)
        c.outChannels = try r.int("out_channels", default: 3)
        c.layersPerBlock = try r.int("layers_per_block", default: 1)
        c.latentChannels = try r.int("latent_channels", default: 4)
        c.normNumGroups = try r.int("norm_num_groups", default: 32)
        c.scalingFactor = try r.float("scaling_factor", default: 0.18215)
        c.shiftFactor = try r.optionalFloat("shift_factor")
        c.useQuantConv = try r.bool("use_quant_conv", default: true)
        c.usePostQuantConv = try r.bool("use_post_quant_conv", default: true)
        c.midBlockAddAttention = try r.bool("mid_block_add_attention", default: true)
        try r.require("act_fn", in: [.string("silu")], reason: "only \"silu\" is implemented")
        for key in ["latents_mean", "latents_std"] {
            try r.require(key, in: [.null], reason: "per-channel latent statistics (SDXL variants) are not supported")
        }
        // force_upcast: diffusers runs the VAE in float32 under float16; this engine always does.
        r.ignore(["sample_size", "force_upcast"])
        try r.finish()
        do { try c.validate() } catch let e as ModelConfigError { throw CheckpointError(e, path: path) }
        self = c
    }

    public init(contentsOf path: String) throws { try self.init(json: JSONValue.read(path), path: path) }
}

extension CLIPTextConfig {
    /// transformers' CLIPTextConfig config.json (text_encoder/config.json), as transformers 4.x
    /// and 5.x write it.
    public init(json: JSONValue, path: String = "text_encoder/config.json") throws {
        var r = try ConfigReader(json, path: path)
        let modelType = try r.string("model_type", default: "clip_text_model")
        guard modelType == "clip_text_model" else {
            throw r.unsupported("model_type", modelType == "clip"
                ? "a full CLIP model config (text and vision); expected the text model's config (clip_text_model)"
                : "expected clip_text_model")
        }
        let architectures = try r.stringList("architectures", default: ["CLIPTextModel"])
        let withProjection = architectures.contains("CLIPTextModelWithProjection")
        if let a = architectures.first(where: { $0 != "CLIPTextModel" && $0 != "CLIPTextModelWithProjection" }) {
            throw CheckpointError.unsupportedConfig(path: path, key: "architectures", value: "\"\(a)\"",
                                                    reason: "expected CLIPTextModel or CLIPTextModelWithProjection")
        }
        var c = try CLIPTextConfig.readEncoder(&r)
        // projection_dim is in every CLIPTextConfig; only the WithProjection model has the layer.
        let projection = try r.int("projection_dim", default: 512)
        c.projectionDim = withProjection ? projection : nil
        // Token ids (the tokenizer's business), initialisation, dtype and version stamps do not
        // change the computation.
        r.ignore(["bos_token_id", "eos_token_id", "pad_token_id", "initializer_factor", "initializer_range",
                  "dtype", "torch_dtype", "transformers_version", "output_attentions", "output_hidden_states",
                  "return_dict", "id2label", "label2id", "tie_word_embeddings", "use_cache", "chunk_size_feed_forward",
                  "is_encoder_decoder", "problem_type", "tokenizer_class", "prefix", "task_specific_params",
                  "name_or_path", "_name_or_path"])
        try r.finish()
        do { try c.validate() } catch let e as ModelConfigError { throw CheckpointError(e, path: path) }
        self = c
    }

    public init(contentsOf path: String) throws { try self.init(json: JSONValue.read(path), path: path) }
}

// What the text encoder's config.json and a CLIPModel's text_config/vision_config share, read
// one way for all three.

extension CLIPTextConfig {
    /// The encoder's shape, activation and dropout (transformers' defaults for missing keys):
    /// the keys a text_encoder/config.json and a CLIPModel's text_config have in common. The
    /// caller reads the rest and finishes the reader.
    static func readEncoder(_ r: inout ConfigReader) throws -> CLIPTextConfig {
        var c = CLIPTextConfig()
        c.vocabSize = try r.int("vocab_size", default: 49408)
        c.hiddenSize = try r.int("hidden_size", default: 512)
        c.intermediateSize = try r.int("intermediate_size", default: 2048)
        c.numHiddenLayers = try r.int("num_hidden_layers", default: 12)
        c.numAttentionHeads = try r.int("num_attention_heads", default: 8)
        c.maxPositionEmbeddings = try r.int("max_position_embeddings", default: 77)
        c.hiddenAct = try r.clipActivation()
        c.layerNormEps = try r.float("layer_norm_eps", default: 1e-5)
        try r.requireNoCLIPDropout()
        return c
    }
}

extension ConfigReader {
    /// hidden_act of a CLIP tower (text or vision).
    mutating func clipActivation() throws -> CLIPActivation {
        let act = try string("hidden_act", default: "quick_gelu")
        guard let activation = CLIPActivation(rawValue: act) else {
            throw unsupported("hidden_act", "expected \"quick_gelu\" or \"gelu\"")
        }
        return activation
    }

    /// A CLIP tower's dropout rates: only 0 (inference) is implemented.
    mutating func requireNoCLIPDropout() throws {
        try require("attention_dropout", in: [.number(0)], reason: "attention dropout is not implemented")
        try require("dropout", in: [.number(0)], reason: "dropout is not implemented")
    }
}
