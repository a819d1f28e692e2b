// Differentiable 2-D convolution over channels-last maps, wrapping the raw-pointer kernels
// of Kernels/Conv2D.swift (which pick pointwise, shifted-tap or tiled im2col lowering).

/// x [N, H, W, Cin] ⊛ weight [Cout, KH, KW, Cin] + bias [Cout] → [N, Ho, Wo, Cout], square
/// stride and symmetric zero padding. The weight is in the engine's layout: convert a
/// PyTorch OIHW checkpoint tensor once at load (permute [0, 2, 3, 1]). A frozen weight or
/// bias costs no gradient work in backward.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 4, "conv2d input must be [N, H, W, C], got \(x.shape)")
    precondition(weight.rank == 4 && weight.shape[3] == x.shape[3],
                 "conv2d weight \(weight.shape) must be [Cout, KH, KW, \(x.shape[3])] for input \(x.shape)")
    let s = Conv2DShape(batch: x.shape[0], height: x.shape[1], width: x.shape[2], inChannels: x.shape[3],
                        outChannels: weight.shape[0], kernelH: weight.shape[1], kernelW: weight.shape[2],
                        stride: stride, padding: padding)
    if let bias { precondition(bias.shape == [s.outChannels], "conv2d bias \(bias.shape), expected [\(s.outChannels)]") }
    let y = Tensor(uninitializedShape: [s.batch, s.outHeight, s.outWidth, s.outChannels])
    conv2dForward(s, input: x.data, weight: weight.data, bias: bias?.data, output: y.data)
    var inputs = [x, weight]
    if let bias { inputs.append(bias) }
    return y.recorded("conv2d", inputs: inputs) { ctx in
        // The kernel accumulates (+=), so gradients start from zero.
        let dx = ctx.needsGrad(0) ? Tensor(zeros: x.shape) : nil
        let dw = ctx.needsGrad(1) ? Tensor(zeros: weight.shape) : nil
        let db = (bias != nil && ctx.needsGrad(2)) ? Tensor(zeros: [s.outChannels]) : nil
        conv2dBackward(s, input: x.data, weight: weight.data, gradOutput: ctx.gradOutput.data,
                       gradInput: dx?.data, gradWeight: dw?.data, gradBias: db?.data)
        return bias == nil ? [dx, dw] : [dx, dw, db]
    }
}
