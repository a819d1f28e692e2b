// Differentiable ops the models need that the engine has as kernels only: 2-D convolution,
// multi-head attention, causal attention (CLIP) and the VAE down-sampler's one-sided padding.
// They follow the engine's op pattern (Autodiff.swift): kernel forward, `recorded` backward.
// Candidates to move into TensorEngine/Ops once the engine branch settles.

import TensorEngine

/// Convolution of x [N, H, W, Cin] with weight [Cout, KH, KW, Cin] (+ bias [Cout]),
/// square stride and symmetric zero padding → [N, Ho, Wo, Cout].
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d needs x [N,H,W,C] and weight [O,KH,KW,I], got \(x.shape) and \(weight.shape)")
    precondition(x.shape[3] == weight.shape[3], "conv2d: input has \(x.shape[3]) channels, weight \(weight.shape) expects \(weight.shape[3])")
    if let bias { precondition(bias.shape == [weight.shape[0]], "conv2d bias \(bias.shape), expected [\(weight.shape[0])]") }
    let s = Conv2DShape(batch: x.shape[0], height: x.shape[1], width: x.shape[2], inChannels: x.shape[3],
                        outChannels: weight.shape[0], kernelH: weight.shape[1], kernelW: weight.shape[2],
                        stride: stride, padding: padding)
    let y = Tensor(uninitializedShape: [s.batch, s.outHeight, s.outWidth, s.outChannels])
    conv2dForward(s, input: x.data, weight: weight.data, bias: bias?.data, output: y.data)
    var inputs = [x, weight]
    if let bias { inputs.append(bias) }
    return y.recorded("conv2d", inputs: inputs) { ctx in
        // The kernel accumulates into its gradient buffers: start them at zero.
        let dx = ctx.needsGrad(0) ? Tensor(zeros: x.shape) : nil
        let dw = ctx.needsGrad(1) ? Tensor(zeros: weight.shape) : nil
        let db = bias != nil && ctx.needsGrad(2) ? Tensor(zeros: [s.outChannels]) : nil
        conv2dBackward(s, input: x.data, weight: weight.data, gradOutput: ctx.gradOutput.data,
                       gradInput: dx?.data, gradWeight: dw?.data, gradBias: db?.data)
        return bias == nil ? [dx, dw] : [dx, dw, db]
    }
}

/// Scaled dot-product attention over heads interleaved in the last dimension:
/// q [B, Lq, H·D], k and v [B, Lk, H·D] → [B, Lq, H·D], softmax(q·kᵀ/√D)·v per head.
public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3, "attention needs [B, L, H·D] tensors, got \(q.shape), \(k.shape), \(v.shape)")
    precondition(k.shape == v.shape && q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2],
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit together")
    precondition(q.shape[2] % heads == 0, "attention: width \(q.shape[2]) does not split into \(heads) heads")
    let s = AttentionShape(batch: q.shape[0], heads: heads, queryLength: q.shape[1], keyLength: k.shape[1],
                           headDim: q.shape[2] / heads)
    let out = Tensor(uninitializedShape: q.shape)
    let logSumExp = Tensor(uninitializedShape: [s.batch, heads, s.queryLength])
    attentionForward(s, q: q.data, k: k.data, v: v.data, out: out.data, logSumExp: logSumExp.data)
    return out.recorded("attention", inputs: [q, k, v]) { ctx in
        // The kernel accumulates; it always produces all three (cheap next to recomputing P).
        let dq = Tensor(zeros: q.shape), dk = Tensor(zeros: k.shape), dv = Tensor(zeros: v.shape)
        attentionBackward(s, q: q.data, k: k.data, v: v.data, out: ctx.output.data, logSumExp: logSumExp.data,
                          gradOut: ctx.gradOutput.data, gradQ: dq.data, gradK: dk.data, gradV: dv.data)
        return [ctx.needsGrad(0) ? dq : nil, ctx.needsGrad(1) ? dk : nil, ctx.needsGrad(2) ? dv : nil]
    }
}

/// Attention where token i sees only tokens 0...i (CLIP's text transformer), built from
/// differentiable matmul/softmax: the engine's attention kernel has no mask, and 77 tokens make
/// the full score matrix tiny. q, k, v [B, L, H·D] → [B, L, H·D].
public func causalAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int) -> Tensor {
    let (b, l, width) = (q.shape[0], q.shape[1], q.shape[2])
    let d = width / heads
    func split(_ t: Tensor) -> Tensor { t.reshaped([b, l, heads, d]).permuted([0, 2, 1, 3]) }   // [B, H, L, D]
    let scores = matmul(split(q), split(k), transposeB: true) * (1 / Float(d).squareRoot())     // [B, H, L, L]
    let probabilities = softmax(scores + causalMask(length: l))
    return matmul(probabilities, split(v)).permuted([0, 2, 1, 3]).reshaped([b, l, width])
}

/// [L, L] with 0 on and below the diagonal and a large negative number above it (added to
/// scores before softmax; exp underflows to exactly 0 as with PyTorch's -inf/finfo.min mask).
func causalMask(length l: Int) -> Tensor {
    let mask = Tensor(zeros: [l, l])
    for i in 0..<l { for j in (i + 1)..<max(i + 1, l) { mask.data[i * l + j] = -Float.greatestFiniteMagnitude } }
    return mask
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
