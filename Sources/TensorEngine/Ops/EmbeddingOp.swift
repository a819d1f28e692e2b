// Differentiable embedding lookup and the (constant) timestep embedding.

/// Rows `ids` of table [V, D] → [ids.count, D]. The table's gradient is dense [V, D] but only
/// the looked-up rows receive values (others stay zero).
public func embedding(_ table: Tensor, ids: [Int]) -> Tensor {
    embedding(table, appended: nil, ids: ids)
}

/// Lookup in a table extended by `appended` rows [E, D]: ids V ..< V+E address them. This is
/// textual inversion's shape: the vocabulary stays frozen (no [V, D] gradient buffer), new
/// tokens get ids after it (as tokenizer.add_tokens assigns them) and only their rows train.
public func embedding(_ table: Tensor, appended: Tensor?, ids: [Int]) -> Tensor {
    precondition(table.rank == 2, "embedding table must be [V, D], got \(table.shape)")
    let (v, d) = (table.shape[0], table.shape[1])
    let extra = appended?.shape[0] ?? 0
    if let appended { precondition(appended.rank == 2 && appended.shape[1] == d, "appended embeddings \(appended.shape) must be [E, \(d)]") }
    for id in ids { precondition(id >= 0 && id < v + extra, "embedding id \(id) outside a table of \(v + extra) rows") }
    let tableIDs = ids.map { $0 < v ? $0 : -1 }
    let appendedIDs = ids.map { $0 >= v ? $0 - v : -1 }
    let y = Tensor(uninitializedShape: [ids.count, d])
    embeddingForward(table.data, ids: tableIDs, d: d, y.data)
    if let appended { embeddingForward(appended.data, ids: appendedIDs, d: d, y.data) }
    let tableShape = table.shape, appendedShape = appended?.shape
    let inputs = appended.map { [table, $0] } ?? [table]
    return y.recorded("embedding", inputs: inputs) { ctx in
        var grads: [Tensor?] = [nil]
        if ctx.needsGrad(0) {
            let dt = Tensor(zeros: tableShape)
            embeddingBackward(ctx.gradOutput.data, ids: tableIDs, d: d, dt.data)
            grads[0] = dt
        }
        if let appendedShape {
            if ctx.needsGrad(1) {
                let de = Tensor(zeros: appendedShape)
                embeddingBackward(ctx.gradOutput.data, ids: appendedIDs, d: d, de.data)
                grads.append(de)
            } else { grads.append(nil) }
        }
        return grads
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
