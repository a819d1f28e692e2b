// diffusers' UNet2DConditionModel, the noise predictor of SD 1.x/2.x, from its config.
//
//   timestep → sinusoids → time_embedding (linear, SiLU, linear)
//   conv_in → down blocks (resnets [+ transformers], stride-2 downsampler) — every output kept
//           → mid block (resnet, transformer, resnet)
//           → up blocks (each resnet takes the next kept output concatenated on channels
//             [+ transformer], nearest upsampler to the next skip's size) → norm+SiLU → conv_out
//
// Gradient checkpointing recomputes each resnet and each transformer in backward.

import TensorEngine

/// One down block: resnets, each followed by a transformer in a CrossAttnDownBlock2D, then
/// the downsampler (all but the deepest block).
public final class UNetDownBlock: @unchecked Sendable {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2D]
    public let downsampler: Downsample2D?

    init(_ w: WeightReader, _ c: UNetConfig, index i: Int, inChannels: Int) throws {
        let out = c.blockOutChannels[i]
        let last = i == c.blockOutChannels.count - 1
        resnets = try (0..<c.layersPerBlock[i]).map {
            try ResnetBlock2D(w.scoped("resnets.\($0)"), in: $0 == 0 ? inChannels : out, out: out,
                              timeEmbedDim: c.timeEmbedDim, groups: c.normNumGroups, eps: c.normEps)
        }
        attentions = c.downBlockTypes[i] != "CrossAttnDownBlock2D" ? [] : try (0..<c.layersPerBlock[i]).map {
            try Transformer2D(w.scoped("attentions.\($0)"), channels: out, heads: c.heads(block: i),
                              layers: c.transformerLayersPerBlock[i], contextDim: c.crossAttentionDim,
                              groups: c.normNumGroups, linearProjection: c.useLinearProjection, layerNormEps: 1e-5)
        }
        downsampler = last ? nil : try Downsample2D(w.scoped("downsamplers.0"), channels: out, padding: c.downsamplePadding)
    }
}

/// One up block: layersPerBlock + 1 resnets over [h, skip] concatenations, each followed by
/// a transformer in a CrossAttnUpBlock2D, then the upsampler (all but the last block).
public final class UNetUpBlock: @unchecked Sendable {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2D]
    public let upsampler: Upsample2D?

    /// `i` counts from the deepest block; channel bookkeeping as diffusers' get_up_block calls.
    init(_ w: WeightReader, _ c: UNetConfig, index i: Int) throws {
        let reversed = Array(c.blockOutChannels.reversed())
        let n = reversed.count
        let out = reversed[i]
        let previousOut = reversed[max(i - 1, 0)]
        let skipIn = reversed[min(i + 1, n - 1)]
        let layers = Array(c.layersPerBlock.reversed())[i] + 1
        resnets = try (0..<layers).map { j in
            let hIn = j == 0 ? previousOut : out
            let skip = j == layers - 1 ? skipIn : out
            return try ResnetBlock2D(w.scoped("resnets.\(j)"), in: hIn + skip, out: out,
                                     timeEmbedDim: c.timeEmbedDim, groups: c.normNumGroups, eps: c.normEps)
        }
        let block = n - 1 - i
        attentions = c.upBlockTypes[i] != "CrossAttnUpBlock2D" ? [] : try (0..<layers).map {
            try Transformer2D(w.scoped("attentions.\($0)"), channels: out, heads: c.heads(block: block),
                              layers: c.transformerLayersPerBlock[block], contextDim: c.crossAttentionDim,
                              groups: c.normNumGroups, linearProjection: c.useLinearProjection, layerNormEps: 1e-5)
        }
        upsampler = i == n - 1 ? nil : try Upsample2D(w.scoped("upsamplers.0"), channels: out)
    }
}

public final class UNet2DConditionModel: @unchecked Sendable {
    public let config: UNetConfig
    public let timeLinear1: Linear, timeLinear2: Linear
    public let convIn: Conv2d
    public let downBlocks: [UNetDownBlock]
    public let midResnets: [ResnetBlock2D]
    public let midAttention: Transformer2D?
    public let upBlocks: [UNetUpBlock]
    let convNormOut: GroupNorm
    public let convOut: Conv2d
    /// Recompute each transformer block in backward instead of keeping its activations.
    ///
    /// Only the transformers: they hold the memory (attention projections and the GEGLU's
    /// 4x-wide hidden layer over every pixel), while the resnets' activations are small and
    /// their 3x3 convs dear to run again. Measured on the SD 1.5 UNet at 512 px, LoRA step
    /// (`bench unet --worker lora-512-ckpt`, one run each): resnets and transformers 14.5 s,
    /// 2744 MiB; transformers only 12.5 s, 2918 MiB; resnets only 11.3 s, 3678 MiB; none
    /// (lora-512) about 10.5 s, 3750 MiB. diffusers checkpoints both.
    public var gradientCheckpointing = false
    /// Every linear / conv layer by its diffusers name, for LoRA.
    public let linearLayers: [Linear]
    public let convLayers: [Conv2d]
    /// Every parameter by name relative to the model (conv weights in engine layout).
    public let parameters: [String: Tensor]
    /// Tensors of the weight source this model did not use (sorted): a loader reports them.
    public let unusedTensorNames: [String]

    public init(config c: UNetConfig, weights source: WeightSource) throws {
        try c.validate()
        config = c
        let w = WeightReader(source)
        let ch = c.blockOutChannels
        timeLinear1 = try Linear(w, "time_embedding.linear_1", in: ch[0], out: c.timeEmbedDim)
        timeLinear2 = try Linear(w, "time_embedding.linear_2", in: c.timeEmbedDim, out: c.timeEmbedDim)
        convIn = try Conv2d(w, "conv_in", in: c.inChannels, out: ch[0], kernel: 3, padding: 1)
        downBlocks = try ch.indices.map {
            try UNetDownBlock(w.scoped("down_blocks.\($0)"), c, index: $0, inChannels: ch[max($0 - 1, 0)])
        }
        let deepest = ch[ch.count - 1], last = ch.count - 1
        if c.midBlockType != nil {
            let m = w.scoped("mid_block")
            midResnets = try (0..<2).map {
                try ResnetBlock2D(m.scoped("resnets.\($0)"), in: deepest, out: deepest, timeEmbedDim: c.timeEmbedDim,
                                  groups: c.normNumGroups, eps: c.normEps)
            }
            midAttention = try Transformer2D(m.scoped("attentions.0"), channels: deepest, heads: c.heads(block: last),
                                             layers: c.transformerLayersPerBlock[last], contextDim: c.crossAttentionDim,
                                             groups: c.normNumGroups, linearProjection: c.useLinearProjection, layerNormEps: 1e-5)
        } else {
            midResnets = []; midAttention = nil
        }
        upBlocks = try ch.indices.map { try UNetUpBlock(w.scoped("up_blocks.\($0)"), c, index: $0) }
        convNormOut = try GroupNorm(w, "conv_norm_out", channels: ch[0], groups: c.normNumGroups, eps: c.normEps)
        convOut = try Conv2d(w, "conv_out", in: ch[0], out: c.outChannels, kernel: 3, padding: 1)
        linearLayers = w.linearLayers
        convLayers = w.convLayers
        parameters = w.parameters
        unusedTensorNames = w.unusedNames
    }

    /// The model output (noise, or v for v-prediction models) for latents [N, H, W, inChannels],
    /// one timestep per sample, and context [N, L, crossAttentionDim] (the text encoder's
    /// states). Any H and W: when a side is not a multiple of `config.spatialMultiple`, each
    /// up-sampler resizes to the matching skip connection's size, as diffusers does.
    public func callAsFunction(_ latents: Tensor, timesteps: [Float], context: Tensor) -> Tensor {
        let n = latents.shape[0]
        precondition(latents.rank == 4 && latents.shape[3] == config.inChannels,
                     "UNet input \(latents.shape), expected [N, H, W, \(config.inChannels)]")
        precondition(timesteps.count == n, "\(timesteps.count) timesteps for a batch of \(n)")
        precondition(context.rank == 3 && context.shape[0] == n && context.shape[2] == config.crossAttentionDim,
                     "UNet context \(context.shape), expected [\(n), L, \(config.crossAttentionDim)]")

        let sinusoids = timestepEmbedding(timesteps, dim: config.blockOutChannels[0], flipSinToCos: config.flipSinToCos,
                                          downscaleFreqShift: config.freqShift)
        // Every resnet applies SiLU to the embedding first; do it once here.
        let temb = silu(timeLinear2(silu(timeLinear1(sinusoids))))

        var h = convIn(latents)
        var skips = [h]
        for block in downBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = runResnet(resnet, h, temb)
                if !block.attentions.isEmpty { h = runTransformer(block.attentions[j], h, context) }
                skips.append(h)
            }
            if let down = block.downsampler {
                h = down(h)
                skips.append(h)
            }
        }
        if let midAttention {
            h = runResnet(midResnets[0], h, temb)
            h = runTransformer(midAttention, h, context)
            h = runResnet(midResnets[1], h, temb)
        }
        for block in upBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = runResnet(resnet, concatLast([h, skips.removeLast()]), temb)
                if !block.attentions.isEmpty { h = runTransformer(block.attentions[j], h, context) }
            }
            if let up = block.upsampler {
                let next = skips[skips.count - 1]     // the size the next block's skips have
                h = up(h, size: (next.shape[1], next.shape[2]))
            }
        }
        return convOut(convNormOut(h, silu: true))
    }

    private func runResnet(_ r: ResnetBlock2D, _ x: Tensor, _ temb: Tensor) -> Tensor {
        r(x, temb)   // never checkpointed: see `gradientCheckpointing`
    }

    private func runTransformer(_ t: Transformer2D, _ x: Tensor, _ context: Tensor) -> Tensor {
        gradientCheckpointing ? checkpoint([x, context]) { t($0[0], context: $0[1]) } : t(x, context: context)
    }
}
