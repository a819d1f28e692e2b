// Differentiable embedding lookup and the (constant) timestep embedding.

/// Rows `ids` of table [V, D] → [ids.count, D]. The table's gradient is dense [V, D] but only
/// the looked-up rows receive values (others stay zero); for textual inversion keep the new
/// tokens in a small trainable table of their own so the big one stays frozen.
public func embedding(_ table: Tensor, ids: [Int]) -> Tensor {
    precondition(table.rank == 2, "embedding table must be [V, D], got \(table.shape)")
    let (v, d) = (table.shape[0], table.shape[1])
    for id in ids { precondition(id >= 0 && id < v, "embedding id \(id) outside a table of \(v) rows") }
    let y = Tensor(uninitializedShape: [ids.count, d])
    embeddingForward(table.data, ids: ids, d: d, y.data)
    let tableShape = table.shape
    return y.recorded("embedding", inputs: [table]) { ctx in
        let dt = Tensor(zeros: tableShape)
        embeddingBackward(ctx.gradOutput.data, ids: ids, d: d, dt.data)
        return [dt]
    }
}

/// diffusers' get_timestep_embedding: [timesteps.count, dim] sinusoids (no gradient).
/// SD's UNet uses flipSinToCos: true, downscaleFreqShift: 0.
public func timestepEmbedding(_ timesteps: [Float], dim: Int, flipSinToCos: Bool = false, downscaleFreqShift: Float = 1,
                              scale: Float = 1, maxPeriod: Float = 10000) -> Tensor {
    let y = Tensor(uninitializedShape: [timesteps.count, dim])
    timestepEmbeddingKernel(timesteps, dim: dim, flipSinToCos: flipSinToCos, downscaleFreqShift: downscaleFreqShift,
                            scale: scale, maxPeriod: maxPeriod, y.data)
    return y
}
