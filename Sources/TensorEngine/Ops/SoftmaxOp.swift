// Differentiable softmax over the last dimension.

public func softmax(_ x: Tensor) -> Tensor {
    let d = x.shape.last ?? 1, rows = x.count / max(1, d)
    let y = Tensor(uninitializedShape: x.shape)
    softmaxForward(x.data, y.data, rows: rows, d: d)
    let shape = x.shape   // the closure keeps y (saved output), not x
    return y.recorded("softmax", inputs: [x], savesOutput: true) { ctx in
        let dx = Tensor(uninitializedShape: shape)
        softmaxBackward(ctx.output.data, ctx.gradOutput.data, dx.data, rows: rows, d: d)
        return [dx]
    }
}
