// diffusers' AutoencoderKL: images ↔ latents.
//
//   encoder: conv_in → down blocks (resnets, one-sided-padded stride-2 conv) → mid block
//            (resnet, single-head attention, resnet) → norm+SiLU → conv_out → quant_conv
//            → mean, logvar (clamped to [-30, 20])
//   decoder: post_quant_conv → conv_in → mid block → up blocks (resnets, nearest-2x + conv)
//            → norm+SiLU → conv_out
//
// Latents here are the VAE's own; the UNet works on latents · scalingFactor (`toUNetLatents`).
// Every norm in the VAE uses eps 1e-6.

import TensorEngine
#if canImport(Glibc)
import Glibc
#endif

/// The VAE's mid block: resnet, one attention over all positions (a single head as wide as
/// the channels), resnet.
public final class VAEMidBlock: @unchecked Sendable {
    public let resnets: [ResnetBlock2D]
    let attentionNorm: GroupNorm?
    public let attention: Attention?

    init(_ w: WeightReader, channels: Int, groups: Int, withAttention: Bool) throws {
        resnets = try (0..<2).map {
            try ResnetBlock2D(w.scoped("resnets.\($0)"), in: channels, out: channels, timeEmbedDim: nil, groups: groups, eps: 1e-6)
        }
        if withAttention {
            let a = w.scoped("attentions.0")
            attentionNorm = try GroupNorm(a, "group_norm", channels: channels, groups: groups, eps: 1e-6)
            attention = try Attention(a, queryDim: channels, contextDim: nil, heads: 1, projectionBias: true)
        } else {
            attentionNorm = nil; attention = nil
        }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnets[0](x, nil)
        if let attention, let attentionNorm {
            let (n, hgt, wid, c) = (h.shape[0], h.shape[1], h.shape[2], h.shape[3])
            h = h + attention(attentionNorm(h).reshaped([n, hgt * wid, c])).reshaped(h.shape)
        }
        return resnets[1](h, nil)
    }
}

/// The encoder's mean and log-variance [N, h, w, latentChannels].
public struct LatentDistribution {
    public let mean: Tensor
    public let logvar: Tensor

    /// mean + exp(logvar / 2) · noise, noise [N, h, w, latentChannels] from the caller's seeded
    /// generator (so training runs are reproducible).
    public func sample(noise: Tensor) -> Tensor {
        precondition(noise.shape == mean.shape, "noise \(noise.shape), latents are \(mean.shape)")
        return mean + standardDeviation * noise
    }

    public var standardDeviation: Tensor {
        let std = Tensor(uninitializedShape: logvar.shape)
        for i in 0..<logvar.count { std.data[i] = expf(0.5 * logvar.data[i]) }
        return std
    }
}

public final class AutoencoderKL: @unchecked Sendable {
    public let config: VAEConfig
    // Encoder
    let encConvIn: Conv2d
    let encDownResnets: [[ResnetBlock2D]]
    let encDownsamplers: [Downsample2D?]
    let encMid: VAEMidBlock
    let encNormOut: GroupNorm
    let encConvOut: Conv2d
    let quantConv: Conv2d?
    // Decoder
    let postQuantConv: Conv2d?
    let decConvIn: Conv2d
    let decMid: VAEMidBlock
    let decUpResnets: [[ResnetBlock2D]]
    let decUpsamplers: [Upsample2D?]
    let decNormOut: GroupNorm
    let decConvOut: Conv2d
    /// Recompute each resnet in backward (for training through the decoder).
    public var gradientCheckpointing = false
    /// Every parameter by name relative to the model (conv weights in engine layout).
    public let parameters: [String: Tensor]
    /// Tensors of the weight source this model did not use (sorted): a loader reports them.
    public let unusedTensorNames: [String]

    public init(config c: VAEConfig, weights source: WeightSource) throws {
        try c.validate()
        config = c
        let w = WeightReader(source)
        let ch = c.blockOutChannels, g = c.normNumGroups, n = ch.count, l = c.latentChannels

        let e = w.scoped("encoder")
        encConvIn = try Conv2d(e, "conv_in", in: c.inChannels, out: ch[0], kernel: 3, padding: 1)
        encDownResnets = try (0..<n).map { i in
            try (0..<c.layersPerBlock).map { j in
                try ResnetBlock2D(e.scoped("down_blocks.\(i).resnets.\(j)"), in: j == 0 ? ch[max(i - 1, 0)] : ch[i],
                                  out: ch[i], timeEmbedDim: nil, groups: g, eps: 1e-6)
            }
        }
        encDownsamplers = try (0..<n).map { i in
            i == n - 1 ? nil : try Downsample2D(e.scoped("down_blocks.\(i).downsamplers.0"), channels: ch[i], padding: 0)
        }
        encMid = try VAEMidBlock(e.scoped("mid_block"), channels: ch[n - 1], groups: g, withAttention: c.midBlockAddAttention)
        encNormOut = try GroupNorm(e, "conv_norm_out", channels: ch[n - 1], groups: g, eps: 1e-6)
        encConvOut = try Conv2d(e, "conv_out", in: ch[n - 1], out: 2 * l, kernel: 3, padding: 1)
        quantConv = c.useQuantConv ? try Conv2d(w, "quant_conv", in: 2 * l, out: 2 * l, kernel: 1) : nil

        postQuantConv = c.usePostQuantConv ? try Conv2d(w, "post_quant_conv", in: l, out: l, kernel: 1) : nil
        let d = w.scoped("decoder")
        let reversed = Array(ch.reversed())
        decConvIn = try Conv2d(d, "conv_in", in: l, out: reversed[0], kernel: 3, padding: 1)
        decMid = try VAEMidBlock(d.scoped("mid_block"), channels: reversed[0], groups: g, withAttention: c.midBlockAddAttention)
        decUpResnets = try (0..<n).map { i in
            try (0...c.layersPerBlock).map { j in
                try ResnetBlock2D(d.scoped("up_blocks.\(i).resnets.\(j)"), in: j == 0 ? reversed[max(i - 1, 0)] : reversed[i],
                                  out: reversed[i], timeEmbedDim: nil, groups: g, eps: 1e-6)
            }
        }
        decUpsamplers = try (0..<n).map { i in
            i == n - 1 ? nil : try Upsample2D(d.scoped("up_blocks.\(i).upsamplers.0"), channels: reversed[i])
        }
        decNormOut = try GroupNorm(d, "conv_norm_out", channels: ch[0], groups: g, eps: 1e-6)
        decConvOut = try Conv2d(d, "conv_out", in: ch[0], out: c.outChannels, kernel: 3, padding: 1)
        parameters = w.parameters
        unusedTensorNames = w.unusedNames
    }

    /// Images [N, H, W, 3] in [-1, 1] (H, W multiples of `config.downscale`) → the latent
    /// distribution [N, H/f, W/f, latentChannels].
    public func encode(_ images: Tensor) -> LatentDistribution {
        precondition(images.rank == 4 && images.shape[3] == config.inChannels,
                     "VAE input \(images.shape), expected [N, H, W, \(config.inChannels)]")
        precondition(images.shape[1] % config.downscale == 0 && images.shape[2] % config.downscale == 0,
                     "VAE input \(images.shape[1])x\(images.shape[2]) is not a multiple of \(config.downscale)")
        var h = encConvIn(images)
        for (resnets, down) in zip(encDownResnets, encDownsamplers) {
            for r in resnets { h = runResnet(r, h) }
            if let down { h = down(h) }
        }
        h = encMid(h)
        h = encConvOut(encNormOut(h, silu: true))
        if let quantConv { h = quantConv(h) }
        let l = config.latentChannels
        let logvar = slice(h, axis: -1, start: l, length: l)
        return LatentDistribution(mean: slice(h, axis: -1, start: 0, length: l), logvar: clampedLogvar(logvar))
    }

    /// VAE latents [N, h, w, latentChannels] (not scaled) → images [N, h·f, w·f, 3], about [-1, 1].
    public func decode(_ latents: Tensor) -> Tensor {
        precondition(latents.rank == 4 && latents.shape[3] == config.latentChannels,
                     "VAE latents \(latents.shape), expected [N, h, w, \(config.latentChannels)]")
        var h = postQuantConv?(latents) ?? latents
        h = decMid(decConvIn(h))
        for (resnets, up) in zip(decUpResnets, decUpsamplers) {
            for r in resnets { h = runResnet(r, h) }
            if let up { h = up(h) }
        }
        return decConvOut(decNormOut(h, silu: true))
    }

    /// VAE latents → what the UNet sees: (z − shift) · scalingFactor.
    public func toUNetLatents(_ z: Tensor) -> Tensor {
        let shifted = config.shiftFactor.map { z - Tensor(scalar: $0) } ?? z
        return shifted * config.scalingFactor
    }

    /// The UNet's latents → VAE latents: z / scalingFactor + shift.
    public func fromUNetLatents(_ z: Tensor) -> Tensor {
        let scaled = z * (1 / config.scalingFactor)
        return config.shiftFactor.map { scaled + Tensor(scalar: $0) } ?? scaled
    }

    private func runResnet(_ r: ResnetBlock2D, _ x: Tensor) -> Tensor {
        gradientCheckpointing ? checkpoint([x]) { r($0[0], nil) } : r(x, nil)
    }
}

/// clamp(logvar, -30, 20) as diffusers' DiagonalGaussianDistribution; the gradient passes
/// where the value was inside the range.
private func clampedLogvar(_ x: Tensor) -> Tensor {
    let y = Tensor(uninitializedShape: x.shape)
    for i in 0..<x.count { y.data[i] = min(max(x.data[i], -30), 20) }
    return y.recorded("clampLogvar", inputs: [x]) { ctx in
        let dx = Tensor(uninitializedShape: x.shape)
        for i in 0..<x.count { dx.data[i] = x.data[i] > -30 && x.data[i] < 20 ? ctx.gradOutput.data[i] : 0 }
        return [dx]
    }
}
