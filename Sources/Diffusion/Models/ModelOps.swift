// Differentiable ops the models need that the engine does not have: causal attention (CLIP,
// with its causal softmax) and the VAE down-sampler's one-sided padding. They follow the engine's op pattern
// (Autodiff.swift): forward, then `recorded` with the backward. Candidates for TensorEngine/Ops.

import TensorEngine
#if canImport(Glibc)
import Glibc
#endif

/// Attention where token i sees only tokens 0...i (CLIP's text transformer), built from
/// differentiable matmul and a causal softmax: the engine's attention kernel has no mask, and
/// 77 tokens make the full score matrix tiny. q, k, v [B, L, H·D] → [B, L, H·D].
public func causalAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int) -> Tensor {
    let (b, l, width) = (q.shape[0], q.shape[1], q.shape[2])
    let d = width / heads
    func split(_ t: Tensor) -> Tensor { t.reshaped([b, l, heads, d]).permuted([0, 2, 1, 3]) }   // [B, H, L, D]
    let scores = matmul(split(q), split(k), transposeB: true) * (1 / Float(d).squareRoot())     // [B, H, L, L]
    return matmul(causalSoftmax(scores), split(v)).permuted([0, 2, 1, 3]).reshaped([b, l, width])
}

/// Softmax over the last dimension of square score matrices [..., L, L] where row i keeps
/// columns 0...i and the rest are exactly 0 (PyTorch adds a finfo.min mask, whose exp is 0).
/// The masked entries are never exponentiated, so no large negative constant meets exp.
public func causalSoftmax(_ x: Tensor) -> Tensor {
    let l = x.shape.last ?? 0
    precondition(x.rank >= 2 && x.dim(-2) == l, "causalSoftmax needs [..., L, L] scores, got \(x.shape)")
    let y = Tensor(zeros: x.shape)
    let (src, dst) = (x.data, y.data)
    parallelFor(x.count / max(1, l)) { row in
        let i = row % l
        let p = src + row * l, q = dst + row * l
        var mx = -Float.infinity
        for j in 0...i { mx = max(mx, p[j]) }
        var sum: Float = 0
        for j in 0...i { q[j] = expf(p[j] - mx); sum += q[j] }
        let inv = 1 / sum
        for j in 0...i { q[j] *= inv }
    }
    return y.recorded("causalSoftmax", inputs: [x], savesOutput: true) { ctx in
        // dx = y · (dy − Σ dy·y) per row; masked entries have y = 0 and get 0.
        let dx = Tensor(zeros: x.shape)
        let (yy, g, out) = (ctx.output.data, ctx.gradOutput.data, dx.data)
        parallelFor(x.count / max(1, l)) { row in
            let i = row % l, o = row * l
            var dot: Float = 0
            for j in 0...i { dot += g[o + j] * yy[o + j] }
            for j in 0...i { out[o + j] = yy[o + j] * (g[o + j] - dot) }
        }
        return [dx]
    }
}

/// Zero-pads x [N, H, W, C] by one row at the bottom and one column at the right: diffusers'
/// Downsample2D with padding 0 (the VAE encoder) pads (0, 1, 0, 1) before a stride-2 conv.
public func padBottomRight(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "padBottomRight needs [N, H, W, C], got \(x.shape)")
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let y = Tensor(zeros: [n, h + 1, w + 1, c])
    let (src, dst) = (x.data, y.data)
    parallelFor(n * h) { row in
        let (b, i) = (row / h, row % h)
        (dst + ((b * (h + 1) + i) * (w + 1)) * c).update(from: src + (row * w) * c, count: w * c)
    }
    return y.recorded("padBottomRight", inputs: [x]) { ctx in
        let dx = Tensor(uninitializedShape: x.shape)
        let (g, out) = (ctx.gradOutput.data, dx.data)
        parallelFor(n * h) { row in
            let (b, i) = (row / h, row % h)
            (out + (row * w) * c).update(from: g + ((b * (h + 1) + i) * (w + 1)) * c, count: w * c)
        }
        return [dx]
    }
}

/// Nearest-neighbour resize of x [N, H, W, C] to [N, outH, outW, C] with PyTorch's
/// F.interpolate(mode="nearest") rule: output row i reads input row ⌊i · H / outH⌋. The UNet's
/// up-samplers use it when a latent side is not a multiple of 2^(blocks−1) (e.g. 520 px).
public func resizeNearest(_ x: Tensor, height outH: Int, width outW: Int) -> Tensor {
    precondition(x.rank == 4 && outH > 0 && outW > 0, "resizeNearest needs [N, H, W, C] and a positive size, got \(x.shape)")
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let rows = (0..<outH).map { min(Int(Float($0) * (Float(h) / Float(outH))), h - 1) }
    let cols = (0..<outW).map { min(Int(Float($0) * (Float(w) / Float(outW))), w - 1) }
    let y = Tensor(uninitializedShape: [n, outH, outW, c])
    let (src, dst) = (x.data, y.data)
    rows.withUnsafeBufferPointer { rowsP in cols.withUnsafeBufferPointer { colsP in
        parallelFor(n * outH) { r in
            let (b, i) = (r / outH, r % outH)
            for j in 0..<outW {
                (dst + (r * outW + j) * c).update(from: src + ((b * h + rowsP[i]) * w + colsP[j]) * c, count: c)
            }
        }
    } }
    return y.recorded("resizeNearest", inputs: [x]) { ctx in
        // Each output pixel adds its gradient to the input pixel it copied.
        let dx = Tensor(zeros: x.shape)
        let (g, out) = (ctx.gradOutput.data, dx.data)
        rows.withUnsafeBufferPointer { rowsP in cols.withUnsafeBufferPointer { colsP in
            parallelFor(n) { b in
                for i in 0..<outH { for j in 0..<outW {
                    let from = g + ((b * outH + i) * outW + j) * c, to = out + ((b * h + rowsP[i]) * w + colsP[j]) * c
                    for k in 0..<c { to[k] += from[k] }
                } }
            }
        } }
        return [dx]
    }
}
