// Differentiable 2-D convolution over channels-last maps, wrapping the raw-pointer kernels
// of Kernels/Conv2D.swift (which pick pointwise, shifted-tap or tiled im2col lowering).

/// x [N, H, W, Cin] ⊛ weight [Cout, KH, KW, Cin] + bias [Cout] → [N, Ho, Wo, Cout], square
/// stride and symmetric zero padding. The weight is in the engine's layout: convert a
/// PyTorch OIHW checkpoint tensor once at load (permute [0, 2, 3, 1]). A frozen weight or
/// bias costs no gradient work in backward.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    conv2d(x, weight: .float32(weight), bias: bias, stride: stride, padding: padding)
}

/// `conv2d` with a frozen half-precision weight [Cout, KH, KW, Cin], widened for the forward
/// pass and again for the input gradient, each copy freed right after.
public func conv2d(_ x: Tensor, halfWeight: HalfTensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    conv2d(x, weight: .half(halfWeight), bias: bias, stride: stride, padding: padding)
}

func conv2d(_ x: Tensor, weight w: OpWeight, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    let shape = w.shape
    precondition(x.rank == 4, "conv2d input must be [N, H, W, C], got \(x.shape)")
    precondition(shape.count == 4 && shape[3] == x.shape[3],
                 "conv2d weight \(shape) must be [Cout, KH, KW, \(x.shape[3])] for input \(x.shape)")
    let s = Conv2DShape(batch: x.shape[0], height: x.shape[1], width: x.shape[2], inChannels: x.shape[3],
                        outChannels: shape[0], kernelH: shape[1], kernelW: shape[2],
                        stride: stride, padding: padding)
    if let bias { precondition(bias.shape == [s.outChannels], "conv2d bias \(bias.shape), expected [\(s.outChannels)]") }
    let y = Tensor(uninitializedShape: [s.batch, s.outHeight, s.outWidth, s.outChannels])
    do {
        let weight = w.values()
        conv2dForward(s, input: x.data, weight: weight.data, bias: bias?.data, output: y.data)
    }
    var inputs = [x, w.input]
    if let bias { inputs.append(bias) }
    return y.recorded("conv2d", inputs: inputs) { ctx in
        // The kernel accumulates (+=), so gradients start from zero.
        let dx = ctx.needsGrad(0) ? Tensor(zeros: x.shape) : nil
        let dw = ctx.needsGrad(1) ? Tensor(zeros: shape) : nil
        let db = (bias != nil && ctx.needsGrad(2)) ? Tensor(zeros: [s.outChannels]) : nil
        // The weight is read only for gradInput (and gradWeight needs none).
        let weight = dx != nil ? w.values() : w.input
        conv2dBackward(s, input: x.data, weight: weight.data, gradOutput: ctx.gradOutput.data,
                       gradInput: dx?.data, gradWeight: dw?.data, gradBias: db?.data)
        return bias == nil ? [dx, dw] : [dx, dw, db]
    }
}
