// Differentiable group norm (NHWC, optionally fused with SiLU) and layer norm.

/// Group norm over a channels-last tensor x [N, ..., C] (e.g. [N, H, W, C] or [N, L, C]):
/// statistics per sample over every position and the C/groups channels of a group, then
/// the per-channel affine. `silu: true` applies SiLU to the result in the same pass (the
/// norm1/nonlinearity pair of a resnet block) and saves no extra activation.
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, silu: Bool = false) -> Tensor {
    precondition(x.rank >= 2, "groupNorm needs [N, ..., C], got \(x.shape)")
    let n = x.shape[0], c = x.shape[x.rank - 1]
    precondition(groups > 0 && c % groups == 0, "groupNorm: \(c) channels do not split into \(groups) groups")
    if let weight { precondition(weight.shape == [c], "groupNorm weight \(weight.shape), expected [\(c)]") }
    if let bias { precondition(bias.shape == [c], "groupNorm bias \(bias.shape), expected [\(c)]") }
    let l = x.count / max(1, n * c)
    let y = Tensor(uninitializedShape: x.shape)
    let mean = Tensor(uninitializedShape: [n, groups]), rstd = Tensor(uninitializedShape: [n, groups])
    groupNormForward(x.data, gamma: weight?.data, beta: bias?.data, y.data, mean: mean.data, rstd: rstd.data,
                     n: n, l: l, c: c, groups: groups, eps: eps, silu: silu)
    var inputs = [x]
    let wi = weight.map { inputs.append($0); return inputs.count - 1 }
    let bi = bias.map { inputs.append($0); return inputs.count - 1 }
    return y.recorded(silu ? "groupNormSiLU" : "groupNorm", inputs: inputs) { ctx in
        let needW = wi.map(ctx.needsGrad) ?? false, needB = bi.map(ctx.needsGrad) ?? false
        let dx = ctx.needsGrad(0) ? Tensor(uninitializedShape: x.shape) : nil
        let dg = needW ? Tensor(uninitializedShape: [c]) : nil, db = needB ? Tensor(uninitializedShape: [c]) : nil
        groupNormBackward(x.data, gamma: weight?.data, beta: bias?.data, mean: mean.data, rstd: rstd.data,
                          dy: ctx.gradOutput.data, dx: dx?.data, dgamma: dg?.data, dbeta: db?.data,
                          n: n, l: l, c: c, groups: groups, silu: silu)
        var grads: [Tensor?] = [dx]
        if wi != nil { grads.append(dg) }
        if bi != nil { grads.append(db) }
        return grads
    }
}

/// Layer norm over the last dimension: x [..., D], weight and bias [D].
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    let d = x.shape.last ?? 1
    if let weight { precondition(weight.shape == [d], "layerNorm weight \(weight.shape), expected [\(d)]") }
    if let bias { precondition(bias.shape == [d], "layerNorm bias \(bias.shape), expected [\(d)]") }
    let rows = x.count / max(1, d)
    let y = Tensor(uninitializedShape: x.shape)
    let mean = Tensor(uninitializedShape: [rows]), rstd = Tensor(uninitializedShape: [rows])
    layerNormForward(x.data, gamma: weight?.data, beta: bias?.data, y.data, mean: mean.data, rstd: rstd.data, rows: rows, d: d, eps: eps)
    var inputs = [x]
    let wi = weight.map { inputs.append($0); return inputs.count - 1 }
    let bi = bias.map { inputs.append($0); return inputs.count - 1 }
    return y.recorded("layerNorm", inputs: inputs) { ctx in
        let dx = ctx.needsGrad(0) ? Tensor(uninitializedShape: x.shape) : nil
        let dg = (wi.map(ctx.needsGrad) ?? false) ? Tensor(uninitializedShape: [d]) : nil
        let db = (bi.map(ctx.needsGrad) ?? false) ? Tensor(uninitializedShape: [d]) : nil
        layerNormBackward(x.data, gamma: weight?.data, mean: mean.data, rstd: rstd.data, dy: ctx.gradOutput.data,
                          dx: dx?.data, dgamma: dg?.data, dbeta: db?.data, rows: rows, d: d)
        var grads: [Tensor?] = [dx]
        if wi != nil { grads.append(dg) }
        if bi != nil { grads.append(db) }
        return grads
    }
}
