// Differentiable multi-head scaled-dot-product attention, wrapping the tiled (flash)
// kernels of Kernels/Attention.swift: the Lq×Lk score matrix is never stored, in forward or
// backward; the op saves only the output and one log-sum-exp per query row and head.

/// softmax(scale · q·kᵀ) · v per head. q [B, Lq, H·D], k and v [B, Lk, H·D] (tokens × heads
/// interleaved, as the to_q/to_k/to_v projections produce them; no head split needed) →
/// [B, Lq, H·D]. scale defaults to 1/√D. Self-attention passes the same token count for q
/// and k/v; cross-attention passes the text context's.
public func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, scale: Float? = nil) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3, "attention expects [B, L, H·D] tensors, got \(q.shape), \(k.shape), \(v.shape)")
    precondition(k.shape == v.shape, "attention: k \(k.shape) and v \(v.shape) differ")
    precondition(q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2], "attention: q \(q.shape) does not match k \(k.shape)")
    precondition(heads > 0 && q.shape[2] % heads == 0, "attention: width \(q.shape[2]) does not split into \(heads) heads")
    let s = AttentionShape(batch: q.shape[0], heads: heads, queryLength: q.shape[1], keyLength: k.shape[1],
                           headDim: q.shape[2] / heads, scale: scale)
    let y = Tensor(uninitializedShape: q.shape)
    let logSumExp = Tensor(uninitializedShape: [s.batch, heads, s.queryLength])
    attentionForward(s, q: q.data, k: k.data, v: v.data, out: y.data, logSumExp: logSumExp.data)
    return y.recorded("attention", inputs: [q, k, v], savesOutput: true) { ctx in
        // The kernel produces all three gradients (accumulating); unneeded ones are dropped.
        let dq = Tensor(zeros: q.shape), dk = Tensor(zeros: k.shape), dv = Tensor(zeros: v.shape)
        attentionBackward(s, q: q.data, k: k.data, v: v.data, out: ctx.output.data, logSumExp: logSumExp.data,
                          gradOut: ctx.gradOutput.data, gradQ: dq.data, gradK: dk.data, gradV: dv.data)
        return [ctx.needsGrad(0) ? dq : nil, ctx.needsGrad(1) ? dk : nil, ctx.needsGrad(2) ? dv : nil]
    }
}
