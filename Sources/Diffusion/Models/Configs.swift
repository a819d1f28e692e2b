// The architecture of each network, as its checkpoint's config.json describes it.
//
// The field names follow diffusers/transformers (camel-cased); the checkpoint loader fills
// these from config.json in its own files. Defaults are Stable Diffusion 1.5's, so that a
// memberwise init with no arguments describes SD 1.5 and a test can change one field.
// Nothing in the model code assumes SD 1.5: every size comes from here.

/// CLIP's activation in the MLP of each text encoder layer (`hidden_act`).
public enum CLIPActivation: String, Sendable, Equatable, Codable {
    /// x · sigmoid(1.702 x): OpenAI CLIP ViT-L/14, the SD 1.x text encoder.
    case quickGELU = "quick_gelu"
    /// exact (erf) GELU: OpenCLIP ViT-H/14, the SD 2.x text encoder.
    case gelu = "gelu"
}

/// transformers' CLIPTextConfig.
public struct CLIPTextConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var hiddenAct: CLIPActivation
    public var layerNormEps: Float
    /// Output size of `text_projection` (CLIPTextModelWithProjection, SDXL's second encoder);
    /// nil for the plain CLIPTextModel that SD 1.x/2.x use.
    public var projectionDim: Int?

    /// SD 1.5 (openai/clip-vit-large-patch14): 49408 tokens, 768 wide, 12 layers of 12 heads,
    /// MLP 3072, 77 positions, quick_gelu, eps 1e-5.
    /// SD 2.x: hiddenSize 1024, intermediateSize 4096, 23 layers, 16 heads, gelu.
    public init(vocabSize: Int = 49408, hiddenSize: Int = 768, intermediateSize: Int = 3072,
                numHiddenLayers: Int = 12, numAttentionHeads: Int = 12, maxPositionEmbeddings: Int = 77,
                hiddenAct: CLIPActivation = .quickGELU, layerNormEps: Float = 1e-5, projectionDim: Int? = nil) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps; self.projectionDim = projectionDim
    }

    public var headDim: Int { hiddenSize / numAttentionHeads }

    /// Throws when the sizes cannot describe a network.
    public func validate() throws {
        try requirePositive(["vocab_size": vocabSize, "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
                             "num_hidden_layers": numHiddenLayers, "num_attention_heads": numAttentionHeads,
                             "max_position_embeddings": maxPositionEmbeddings], in: "text_encoder")
        if hiddenSize % numAttentionHeads != 0 {
            throw ModelConfigError.invalid(model: "text_encoder", field: "num_attention_heads",
                                           reason: "hidden_size \(hiddenSize) does not split into \(numAttentionHeads) heads")
        }
    }
}

/// diffusers' UNet2DConditionModel config.
public struct UNetConfig: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    /// Resnets per down block (up blocks have one more). Per block; an int in config.json is
    /// repeated for every block.
    public var layersPerBlock: [Int]
    /// "CrossAttnDownBlock2D" or "DownBlock2D", one per entry of blockOutChannels.
    public var downBlockTypes: [String]
    /// "UNetMidBlock2DCrossAttn" (nil: no mid block).
    public var midBlockType: String?
    /// "UpBlock2D" or "CrossAttnUpBlock2D", from the deepest block up.
    public var upBlockTypes: [String]
    /// Per block. Despite its name this is the number of HEADS in SD 1.x/2.x checkpoints
    /// (diffusers keeps the historical naming): head count = numAttentionHeads ?? attentionHeadDim,
    /// and a head's width = block channels / head count. SD 1.5: 8 everywhere; SD 2.x: [5,10,20,20].
    public var attentionHeadDim: [Int]
    /// Per block; when present it wins over attentionHeadDim (newer configs, SDXL).
    public var numAttentionHeads: [Int]?
    public var crossAttentionDim: Int
    /// Transformer proj_in/proj_out as linear layers (SD 2.x) instead of 1x1 convs (SD 1.x).
    public var useLinearProjection: Bool
    /// Attention scores in float32 under float16: this engine always computes in float32, so
    /// the flag changes nothing here; kept so the config round-trips and is checked.
    public var upcastAttention: Bool
    /// Transformer blocks inside each Transformer2DModel, per block (SDXL uses [1, 2, 10]).
    public var transformerLayersPerBlock: [Int]
    public var normNumGroups: Int
    public var normEps: Float
    public var flipSinToCos: Bool
    public var freqShift: Float
    /// Width of the time embedding MLP; nil = blockOutChannels[0] · 4.
    public var timeEmbeddingDim: Int?
    /// Stride-2 conv padding of the down-samplers (1 in every SD checkpoint).
    public var downsamplePadding: Int
    /// Added conditioning (SDXL: "text_time"). Not supported yet: `validate()` refuses it.
    public var additionEmbedType: String?
    /// Class conditioning (SD upscalers). Not supported: `validate()` refuses it.
    public var classEmbedType: String?
    /// Diffusers options no SD 1.x/2.x checkpoint sets; `validate()` refuses non-defaults.
    public var resnetTimeScaleShift: String
    public var onlyCrossAttention: Bool
    public var dualCrossAttention: Bool
    public var centerInputSample: Bool
    public var actFn: String
    public var timeEmbeddingType: String
    public var midBlockScaleFactor: Float

    /// SD 1.5's UNet: 4 → 4 channels, blocks [320, 640, 1280, 1280], 2 resnets per down block,
    /// three cross-attention down blocks and a plain one, 8 heads, cross-attention from 768-wide
    /// CLIP states, conv projections, 32 norm groups, eps 1e-5, flip_sin_to_cos, freq_shift 0.
    public init(inChannels: Int = 4, outChannels: Int = 4, blockOutChannels: [Int] = [320, 640, 1280, 1280],
                layersPerBlock: [Int] = [2, 2, 2, 2],
                downBlockTypes: [String] = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                midBlockType: String? = "UNetMidBlock2DCrossAttn",
                upBlockTypes: [String] = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                attentionHeadDim: [Int] = [8, 8, 8, 8], numAttentionHeads: [Int]? = nil,
                crossAttentionDim: Int = 768, useLinearProjection: Bool = false, upcastAttention: Bool = false,
                transformerLayersPerBlock: [Int] = [1, 1, 1, 1], normNumGroups: Int = 32, normEps: Float = 1e-5,
                flipSinToCos: Bool = true, freqShift: Float = 0, timeEmbeddingDim: Int? = nil,
                downsamplePadding: Int = 1, additionEmbedType: String? = nil, classEmbedType: String? = nil,
                resnetTimeScaleShift: String = "default", onlyCrossAttention: Bool = false,
                dualCrossAttention: Bool = false, centerInputSample: Bool = false, actFn: String = "silu",
                timeEmbeddingType: String = "positional", midBlockScaleFactor: Float = 1) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock; self.downBlockTypes = downBlockTypes; self.midBlockType = midBlockType
        self.upBlockTypes = upBlockTypes; self.attentionHeadDim = attentionHeadDim
        self.numAttentionHeads = numAttentionHeads; self.crossAttentionDim = crossAttentionDim
        self.useLinearProjection = useLinearProjection; self.upcastAttention = upcastAttention
        self.transformerLayersPerBlock = transformerLayersPerBlock; self.normNumGroups = normNumGroups
        self.normEps = normEps; self.flipSinToCos = flipSinToCos; self.freqShift = freqShift
        self.timeEmbeddingDim = timeEmbeddingDim; self.downsamplePadding = downsamplePadding
        self.additionEmbedType = additionEmbedType; self.classEmbedType = classEmbedType
        self.resnetTimeScaleShift = resnetTimeScaleShift; self.onlyCrossAttention = onlyCrossAttention
        self.dualCrossAttention = dualCrossAttention; self.centerInputSample = centerInputSample
        self.actFn = actFn; self.timeEmbeddingType = timeEmbeddingType; self.midBlockScaleFactor = midBlockScaleFactor
    }

    /// Head count of the transformers in down block `i` (the mid block uses the last).
    public func heads(block i: Int) -> Int { (numAttentionHeads ?? attentionHeadDim)[i] }
    public var timeEmbedDim: Int { timeEmbeddingDim ?? blockOutChannels[0] * 4 }
    /// Latent sides that are multiples of this halve exactly at every down-sampler; other sizes
    /// work too (the up-samplers then resize to the skip connections' sizes).
    public var spatialMultiple: Int { 1 << max(0, blockOutChannels.count - 1) }

    /// Throws for a configuration this code does not implement or that cannot be a network,
    /// naming the config.json field.
    public func validate() throws {
        let m = "unet"
        func unsupported(_ field: String, _ value: String, _ why: String) -> ModelConfigError {
            .unsupported(model: m, field: field, value: value, reason: why)
        }
        if let additionEmbedType {
            throw unsupported("addition_embed_type", additionEmbedType, "added text/time conditioning (SDXL) is not supported yet")
        }
        if let classEmbedType { throw unsupported("class_embed_type", classEmbedType, "class-conditioned UNets are not supported") }
        if resnetTimeScaleShift != "default" { throw unsupported("resnet_time_scale_shift", resnetTimeScaleShift, "only \"default\" is implemented") }
        if onlyCrossAttention { throw unsupported("only_cross_attention", "true", "only false is implemented") }
        if dualCrossAttention { throw unsupported("dual_cross_attention", "true", "only false is implemented") }
        if actFn != "silu" { throw unsupported("act_fn", actFn, "only \"silu\" is implemented") }
        if midBlockScaleFactor != 1 { throw unsupported("mid_block_scale_factor", "\(midBlockScaleFactor)", "only 1 is implemented") }
        if centerInputSample { throw unsupported("center_input_sample", "true", "only false is implemented") }
        if timeEmbeddingType != "positional" { throw unsupported("time_embedding_type", timeEmbeddingType, "only \"positional\" is implemented") }
        if let midBlockType, midBlockType != "UNetMidBlock2DCrossAttn" {
            throw unsupported("mid_block_type", midBlockType, "only UNetMidBlock2DCrossAttn is implemented")
        }
        let n = blockOutChannels.count
        guard n > 0 else { throw ModelConfigError.invalid(model: m, field: "block_out_channels", reason: "is empty") }
        let perBlock: [(String, Int)] = [("down_block_types", downBlockTypes.count), ("up_block_types", upBlockTypes.count),
                                         ("layers_per_block", layersPerBlock.count), ("attention_head_dim", attentionHeadDim.count),
                                         ("transformer_layers_per_block", transformerLayersPerBlock.count),
                                         ("num_attention_heads", numAttentionHeads?.count ?? n)]
        for (field, count) in perBlock where count != n {
            throw ModelConfigError.invalid(model: m, field: field, reason: "has \(count) entries, expected one per block (\(n))")
        }
        for t in downBlockTypes where t != "CrossAttnDownBlock2D" && t != "DownBlock2D" {
            throw unsupported("down_block_types", t, "expected CrossAttnDownBlock2D or DownBlock2D")
        }
        for t in upBlockTypes where t != "CrossAttnUpBlock2D" && t != "UpBlock2D" {
            throw unsupported("up_block_types", t, "expected CrossAttnUpBlock2D or UpBlock2D")
        }
        try requirePositive(["in_channels": inChannels, "out_channels": outChannels, "cross_attention_dim": crossAttentionDim,
                             "norm_num_groups": normNumGroups], in: m)
        for (i, c) in blockOutChannels.enumerated() {
            if c <= 0 || c % normNumGroups != 0 {
                throw ModelConfigError.invalid(model: m, field: "block_out_channels", reason: "block \(i) has \(c) channels, not a positive multiple of norm_num_groups \(normNumGroups)")
            }
            let h = heads(block: i)
            if h <= 0 || c % h != 0 {
                throw ModelConfigError.invalid(model: m, field: numAttentionHeads == nil ? "attention_head_dim" : "num_attention_heads",
                                               reason: "block \(i): \(c) channels do not split into \(h) heads")
            }
        }
    }
}

/// diffusers' AutoencoderKL config.
public struct VAEConfig: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var latentChannels: Int
    /// Latents the UNet sees are the VAE's latents times this (0.18215 for SD 1.x/2.x).
    public var scalingFactor: Float
    /// Subtracted before scaling (SD3/Flux); nil for SD.
    public var shiftFactor: Float?
    public var normNumGroups: Int
    /// quant_conv / post_quant_conv present (true for every SD VAE).
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    /// Attention in the encoder/decoder mid blocks (true for SD).
    public var midBlockAddAttention: Bool

    /// SD 1.5/2.x's VAE: RGB ↔ 4 latent channels, blocks [128, 256, 512, 512], 2 resnets per
    /// block, 32 norm groups, scaling factor 0.18215.
    public init(inChannels: Int = 3, outChannels: Int = 3, blockOutChannels: [Int] = [128, 256, 512, 512],
                layersPerBlock: Int = 2, latentChannels: Int = 4, scalingFactor: Float = 0.18215,
                shiftFactor: Float? = nil, normNumGroups: Int = 32, useQuantConv: Bool = true,
                usePostQuantConv: Bool = true, midBlockAddAttention: Bool = true) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock; self.latentChannels = latentChannels; self.scalingFactor = scalingFactor
        self.shiftFactor = shiftFactor; self.normNumGroups = normNumGroups; self.useQuantConv = useQuantConv
        self.usePostQuantConv = usePostQuantConv; self.midBlockAddAttention = midBlockAddAttention
    }

    /// Image side / latent side.
    public var downscale: Int { 1 << max(0, blockOutChannels.count - 1) }

    public func validate() throws {
        let m = "vae"
        guard !blockOutChannels.isEmpty else { throw ModelConfigError.invalid(model: m, field: "block_out_channels", reason: "is empty") }
        try requirePositive(["in_channels": inChannels, "out_channels": outChannels, "layers_per_block": layersPerBlock,
                             "latent_channels": latentChannels, "norm_num_groups": normNumGroups], in: m)
        for (i, c) in blockOutChannels.enumerated() where c <= 0 || c % normNumGroups != 0 {
            throw ModelConfigError.invalid(model: m, field: "block_out_channels", reason: "block \(i) has \(c) channels, not a positive multiple of norm_num_groups \(normNumGroups)")
        }
    }
}

/// A configuration this code cannot build, naming the model and its config.json field.
public enum ModelConfigError: Error, Equatable, CustomStringConvertible {
    case unsupported(model: String, field: String, value: String, reason: String)
    case invalid(model: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .unsupported(let model, let field, let value, let reason):
            return "\(model)/config.json: \(field) = \(value) is not supported: \(reason)"
        case .invalid(let model, let field, let reason):
            return "\(model)/config.json: \(field) \(reason)"
        }
    }
}

private func requirePositive(_ fields: KeyValuePairs<String, Int>, in model: String) throws {
    for (field, value) in fields where value <= 0 {
        throw ModelConfigError.invalid(model: model, field: field, reason: "is \(value), expected a positive number")
    }
}
