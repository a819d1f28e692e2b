// The building blocks shared by the UNet and the VAE, named as diffusers names them
// (ResnetBlock2D, Attention, FeedForward, BasicTransformerBlock, Transformer2DModel,
// Downsample2D, Upsample2D). Feature maps are NHWC; token sequences are [B, L, C].

import TensorEngine

/// norm1+SiLU → conv1 (+ time embedding) → norm2+SiLU → conv2, plus the input (through a 1x1
/// conv_shortcut when the channel count changes). Dropout is inference/training-identical at
/// SD's rate 0.
public final class ResnetBlock2D: @unchecked Sendable {
    let norm1: GroupNorm, norm2: GroupNorm
    public let conv1: Conv2d, conv2: Conv2d
    public let timeEmbProj: Linear?
    public let convShortcut: Conv2d?

    init(_ w: WeightReader, in inC: Int, out outC: Int, timeEmbedDim: Int?, groups: Int, eps: Float) throws {
        norm1 = try GroupNorm(w, "norm1", channels: inC, groups: groups, eps: eps)
        conv1 = try Conv2d(w, "conv1", in: inC, out: outC, kernel: 3, padding: 1)
        timeEmbProj = try timeEmbedDim.map { try Linear(w, "time_emb_proj", in: $0, out: outC) }
        norm2 = try GroupNorm(w, "norm2", channels: outC, groups: groups, eps: eps)
        conv2 = try Conv2d(w, "conv2", in: outC, out: outC, kernel: 3, padding: 1)
        convShortcut = inC == outC ? nil : try Conv2d(w, "conv_shortcut", in: inC, out: outC, kernel: 1)
    }

    /// x [N, H, W, Cin]; timeEmbedding [N, T] already passed through SiLU (the UNet does it once
    /// for every resnet, as diffusers' nonlinearity(temb) would).
    func callAsFunction(_ x: Tensor, _ timeEmbedding: Tensor?) -> Tensor {
        var h = conv1(norm1(x, silu: true))
        if let timeEmbProj, let timeEmbedding {
            let t = timeEmbProj(timeEmbedding)
            h = h + t.reshaped([t.shape[0], 1, 1, t.shape[1]])
        }
        h = conv2(norm2(h, silu: true))
        return (convShortcut?(x) ?? x) + h
    }
}

/// Multi-head attention with to_q/to_k/to_v (bias when `projectionBias`) and to_out.0.
/// Self-attention when called without a context.
public final class Attention: @unchecked Sendable {
    public let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    let heads: Int

    init(_ w: WeightReader, queryDim: Int, contextDim: Int?, heads: Int, projectionBias: Bool) throws {
        let kv = contextDim ?? queryDim
        toQ = try Linear(w, "to_q", in: queryDim, out: queryDim, bias: projectionBias)
        toK = try Linear(w, "to_k", in: kv, out: queryDim, bias: projectionBias)
        toV = try Linear(w, "to_v", in: kv, out: queryDim, bias: projectionBias)
        toOut = try Linear(w, "to_out.0", in: queryDim, out: queryDim)
        self.heads = heads
    }

    /// x [B, L, C], context [B, Lc, Cc] → [B, L, C].
    func callAsFunction(_ x: Tensor, context: Tensor? = nil) -> Tensor {
        let c = context ?? x
        return toOut(attention(q: toQ(x), k: toK(c), v: toV(c), heads: heads))
    }
}

/// GEGLU feed-forward: ff.net.0.proj (C → 2·4C), x·gelu(gate), ff.net.2 (4C → C).
public final class FeedForward: @unchecked Sendable {
    public let projIn: Linear, projOut: Linear

    init(_ w: WeightReader, dim: Int) throws {
        let inner = 4 * dim
        projIn = try Linear(w, "net.0.proj", in: dim, out: 2 * inner)
        projOut = try Linear(w, "net.2", in: inner, out: dim)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { projOut(geglu(projIn(x))) }
}

/// x + attn1(norm1(x)); + attn2(norm2(x), context); + ff(norm3(x)).
public final class BasicTransformerBlock: @unchecked Sendable {
    let norm1: LayerNorm, norm2: LayerNorm, norm3: LayerNorm
    public let attn1: Attention, attn2: Attention
    public let ff: FeedForward

    init(_ w: WeightReader, dim: Int, heads: Int, contextDim: Int, eps: Float) throws {
        norm1 = try LayerNorm(w, "norm1", dim: dim, eps: eps)
        attn1 = try Attention(w.scoped("attn1"), queryDim: dim, contextDim: nil, heads: heads, projectionBias: false)
        norm2 = try LayerNorm(w, "norm2", dim: dim, eps: eps)
        attn2 = try Attention(w.scoped("attn2"), queryDim: dim, contextDim: contextDim, heads: heads, projectionBias: false)
        norm3 = try LayerNorm(w, "norm3", dim: dim, eps: eps)
        ff = try FeedForward(w.scoped("ff"), dim: dim)
    }

    func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        var h = x + attn1(norm1(x))
        h = h + attn2(norm2(h), context: context)
        return h + ff(norm3(h))
    }
}

/// diffusers' Transformer2DModel (the "spatial transformer"): group norm, proj_in, transformer
/// blocks over the H·W tokens, proj_out, plus the input. proj_in/out are 1x1 convs (SD 1.x) or
/// linear layers (SD 2.x): on channels-last maps both are the same product over channels, so
/// both load as Linear and only the stored weight shape differs.
public final class Transformer2D: @unchecked Sendable {
    let norm: GroupNorm
    public let projIn: Linear, projOut: Linear
    public let blocks: [BasicTransformerBlock]

    init(_ w: WeightReader, channels: Int, heads: Int, layers: Int, contextDim: Int, groups: Int,
         linearProjection: Bool, layerNormEps: Float) throws {
        // diffusers builds this norm with eps 1e-6 whatever the UNet's norm_eps.
        norm = try GroupNorm(w, "norm", channels: channels, groups: groups, eps: 1e-6)
        projIn = try Linear(w, "proj_in", in: channels, out: channels, acceptConv1x1: !linearProjection)
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(w.scoped("transformer_blocks.\($0)"), dim: channels, heads: heads,
                                      contextDim: contextDim, eps: layerNormEps)
        }
        projOut = try Linear(w, "proj_out", in: channels, out: channels, acceptConv1x1: !linearProjection)
    }

    /// x [N, H, W, C], context [N, Lc, Cc].
    func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let (n, hgt, wid, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var h = projIn(norm(x)).reshaped([n, hgt * wid, c])
        for block in blocks { h = block(h, context: context) }
        return x + projOut(h).reshaped(x.shape)
    }
}

/// Stride-2 3x3 conv. `padding` 1 (UNet); 0 means diffusers' one-sided (0, 1, 0, 1) padding
/// first (VAE encoder).
public final class Downsample2D: @unchecked Sendable {
    public let conv: Conv2d
    let oneSidedPadding: Bool

    init(_ w: WeightReader, channels: Int, padding: Int) throws {
        conv = try Conv2d(w, "conv", in: channels, out: channels, kernel: 3, stride: 2, padding: padding)
        oneSidedPadding = padding == 0
    }

    func callAsFunction(_ x: Tensor) -> Tensor { conv(oneSidedPadding ? padBottomRight(x) : x) }
}

/// Nearest 2x up-sampling (or to a given size, for sides that were odd on the way down),
/// then a 3x3 conv.
public final class Upsample2D: @unchecked Sendable {
    public let conv: Conv2d

    init(_ w: WeightReader, channels: Int) throws {
        conv = try Conv2d(w, "conv", in: channels, out: channels, kernel: 3, padding: 1)
    }

    func callAsFunction(_ x: Tensor, size: (height: Int, width: Int)? = nil) -> Tensor {
        guard let size, size != (2 * x.shape[1], 2 * x.shape[2]) else { return conv(upsampleNearest2x(x)) }
        return conv(resizeNearest(x, height: size.height, width: size.width))
    }
}
