// 2-D convolution on channels-last (NHWC) tensors, forward and backward, as GEMMs.
//
// Layouts (all row-major float32, densely packed):
//   input       [N, H, W, Cin]
//   weight      [Cout, KH, KW, Cin]   one im2col row per output channel (PyTorch's OIHW → OHWI)
//   bias        [Cout]
//   output      [N, Ho, Wo, Cout]
//
// Three ways to turn the convolution into GEMMs, chosen by shape (see `Conv2DMethod`):
//   - pointwise: a 1x1 stride-1 unpadded conv in NHWC *is* a GEMM over pixels.
//   - shifted taps (stride 1, Conv2DShifted.swift): no im2col at all; one GEMM per kernel tap
//     on a zero-padded copy of the input.
//   - im2col in tiles (any stride, Conv2DIm2col.swift): a bounded column buffer of a few output
//     rows at a time, so a 64x64x320 conv never allocates its 47 MB column matrix.
//   - Winograd F(4x4, 3x3) on maps of 32x32 and more, F(2x2, 3x3) on 16x16 (3x3 stride 1,
//     Conv2DWinograd.swift): 36 GEMMs on 1/16 of the pixels (4x fewer multiply-adds) or 16 on
//     a quarter (2.25x fewer), forward and input gradient; the weight gradient is the shifted
//     taps'.

/// The geometry of one convolution. Square stride and symmetric padding, as Stable Diffusion uses.
public struct Conv2DShape: Sendable, Equatable, CustomStringConvertible {
    public var batch: Int
    public var height: Int
    public var width: Int
    public var inChannels: Int
    public var outChannels: Int
    public var kernelH: Int
    public var kernelW: Int
    public var stride: Int
    public var padding: Int

    public init(batch: Int, height: Int, width: Int, inChannels: Int, outChannels: Int,
                kernelH: Int, kernelW: Int, stride: Int = 1, padding: Int = 0) {
        precondition(batch > 0 && height > 0 && width > 0 && inChannels > 0 && outChannels > 0,
                     "Conv2DShape: sizes must be positive")
        precondition(kernelH > 0 && kernelW > 0 && stride > 0 && padding >= 0,
                     "Conv2DShape: kernel and stride must be positive, padding non-negative")
        precondition(height + 2 * padding >= kernelH && width + 2 * padding >= kernelW,
                     "Conv2DShape: kernel \(kernelH)x\(kernelW) larger than padded input \(height)x\(width)+\(padding)")
        self.batch = batch; self.height = height; self.width = width
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelH = kernelH; self.kernelW = kernelW; self.stride = stride; self.padding = padding
    }

    public var outHeight: Int { (height + 2 * padding - kernelH) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernelW) / stride + 1 }

    /// Length of one im2col row: the inner dimension of every GEMM.
    public var patchSize: Int { kernelH * kernelW * inChannels }
    public var inputCount: Int { batch * height * width * inChannels }
    public var outputCount: Int { batch * outHeight * outWidth * outChannels }
    public var weightCount: Int { outChannels * patchSize }

    /// Multiply-adds × 2 of the forward pass (the backward pass is twice this).
    public var forwardFLOPs: Double { 2 * Double(batch * outHeight * outWidth) * Double(outChannels * patchSize) }

    public var description: String {
        "conv \(inChannels)→\(outChannels) \(kernelH)x\(kernelW)/\(stride) pad \(padding) on \(batch)x\(height)x\(width)"
    }
}

/// How a convolution is lowered to GEMMs. `conv2dForward`/`conv2dBackward` pick one with
/// `Conv2DMethod.default(for:)`; the `method:` variants exist so tests and the benchmark can
/// compare them on the same shape.
public enum Conv2DMethod: Sendable, CaseIterable {
    case pointwise
    case shiftedTaps
    case im2colTiles
    case winograd

    /// Measured with `dropbooth bench engine --conv-method … --pass fwd` under `perf stat`: on
    /// 320 channels at 64x64, shifted taps take ~20% fewer cycles than im2col (no column copy);
    /// at 640x32x32 they are even. Pointwise needs no lowering at all.
    public static func `default`(for s: Conv2DShape) -> Conv2DMethod {
        if s.kernelH == 1 && s.kernelW == 1 && s.stride == 1 && s.padding == 0 { return .pointwise }
        if winogradPays(s) { return .winograd }
        if s.stride == 1 { return .shiftedTaps }
        return .im2colTiles
    }

    public func supports(_ s: Conv2DShape) -> Bool {
        switch self {
        case .pointwise: return s.kernelH == 1 && s.kernelW == 1 && s.stride == 1 && s.padding == 0
        case .shiftedTaps: return s.stride == 1
        case .im2colTiles: return true
        case .winograd: return s.kernelH == 3 && s.kernelW == 3 && s.stride == 1
        }
    }

    /// Where Winograd beats the shifted taps: maps of 16x16 and more, where the GEMMs dominate
    /// and the per-call weight transform (16 or 36 planes of Cout × Cin) is small beside them,
    /// and enough channels for the GEMMs to be efficient. Measured forward, shifted taps →
    /// Winograd (`bench engine --conv-method`, 2 threads, 2026-12-07): 320 ch @64² 39.0 → 16.2
    /// ms (F(4x4)), 640 @32² 40.6 → 19.6 (F(4x4)), 1280 @16² 43.7 → 32.6 (F(2x2)); 1280 @8²
    /// 14.0 → 25.6 (F(2x2): the 16-plane weight transform outweighs 16 tiles' GEMMs).
    static func winogradPays(_ s: Conv2DShape) -> Bool {
        Conv2DMethod.winograd.supports(s) && s.outHeight >= 16 && s.outWidth >= 16 && s.inChannels >= 16 && s.outChannels >= 16
    }
}

/// Forward convolution: output [N,Ho,Wo,Cout] is overwritten with input ⊛ weight + bias.
/// input [N,H,W,Cin], weight [Cout,KH,KW,Cin], bias [Cout] or nil.
public func conv2dForward(
    _ s: Conv2DShape,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>
) {
    conv2dForward(s, method: .default(for: s), input: input, weight: weight, bias: bias, output: output)
}

/// Backward convolution. Gradients ACCUMULATE (+=) into the non-nil buffers:
/// gradInput [N,H,W,Cin], gradWeight [Cout,KH,KW,Cin], gradBias [Cout]. A nil buffer means that
/// gradient is not needed and its work is skipped entirely (a frozen conv does no weight GEMM;
/// the first conv of a network does no input GEMM).
public func conv2dBackward(
    _ s: Conv2DShape,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
    gradBias: UnsafeMutablePointer<Float>?
) {
    conv2dBackward(s, method: .default(for: s), input: input, weight: weight, gradOutput: gradOutput,
                   gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias)
}

public func conv2dForward(
    _ s: Conv2DShape, method: Conv2DMethod,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>
) {
    precondition(method.supports(s), "conv2dForward: \(method) cannot run \(s)")
    switch method {
    case .pointwise:
        // output[P, Cout] = input[P, Cin] · weight[Cout, Cin]ᵀ
        let pixels = s.batch * s.height * s.width
        gemm(transposeB: true, m: pixels, n: s.outChannels, k: s.inChannels,
             a: input, lda: s.inChannels, b: weight, ldb: s.inChannels, c: output, ldc: s.outChannels)
        if let bias { addBiasRows(output, rows: pixels, bias: bias, channels: s.outChannels) }
    case .shiftedTaps:
        conv2dForwardShifted(s, input: input, weight: weight, bias: bias, output: output)
    case .im2colTiles:
        conv2dForwardIm2col(s, input: input, weight: weight, bias: bias, output: output)
    case .winograd:
        conv2dForwardWinograd(s, input: input, weight: weight, bias: bias, output: output)
    }
}

public func conv2dBackward(
    _ s: Conv2DShape, method: Conv2DMethod,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
    gradBias: UnsafeMutablePointer<Float>?
) {
    precondition(method.supports(s), "conv2dBackward: \(method) cannot run \(s)")
    let outPixels = s.batch * s.outHeight * s.outWidth
    if let gradBias { accumulateColumnSums(gradOutput, rows: outPixels, columns: s.outChannels, into: gradBias) }
    guard gradInput != nil || gradWeight != nil else { return }
    switch method {
    case .pointwise:
        if let gradInput {
            // gradInput[P, Cin] += gradOutput[P, Cout] · weight[Cout, Cin]
            gemm(m: outPixels, n: s.inChannels, k: s.outChannels,
                 a: gradOutput, lda: s.outChannels, b: weight, ldb: s.inChannels,
                 beta: 1, c: gradInput, ldc: s.inChannels)
        }
        if let gradWeight {
            // gradWeight[Cout, Cin] += gradOutput[P, Cout]ᵀ · input[P, Cin]
            gemm(transposeA: true, m: s.outChannels, n: s.inChannels, k: outPixels,
                 a: gradOutput, lda: s.outChannels, b: input, ldb: s.inChannels,
                 beta: 1, c: gradWeight, ldc: s.inChannels)
        }
    case .shiftedTaps:
        conv2dBackwardShifted(s, input: input, weight: weight, gradOutput: gradOutput,
                              gradInput: gradInput, gradWeight: gradWeight)
    case .winograd:
        // The input gradient by Winograd too (a correlation with the flipped kernel), the
        // weight gradient on the shifted taps.
        if let gradInput, s.padding <= 2 {
            conv2dBackwardInputWinograd(s, weight: weight, gradOutput: gradOutput, gradInput: gradInput)
            if gradWeight != nil {
                conv2dBackwardShifted(s, input: input, weight: weight, gradOutput: gradOutput, gradInput: nil, gradWeight: gradWeight)
            }
        } else {
            conv2dBackwardShifted(s, input: input, weight: weight, gradOutput: gradOutput,
                                  gradInput: gradInput, gradWeight: gradWeight)
        }
    case .im2colTiles:
        conv2dBackwardIm2col(s, input: input, weight: weight, gradOutput: gradOutput,
                             gradInput: gradInput, gradWeight: gradWeight)
    }
}

// MARK: - Small helpers shared by the conv paths

/// rows × channels matrix += bias broadcast over rows.
@usableFromInline
func addBiasRows(_ x: UnsafeMutablePointer<Float>, rows: Int, bias: UnsafePointer<Float>, channels: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 65536 / channels)) { range in
        for r in range {
            let row = x + r * channels
            for c in 0..<channels { row[c] += bias[c] }
        }
    }
}

/// into[c] += Σ_r x[r, c]. Each thread sums a band of rows into its own partial, then the
/// partials are added in a fixed order so the result does not depend on scheduling.
func accumulateColumnSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into: UnsafeMutablePointer<Float>) {
    let bands = min(EngineThreads.count, max(1, rows * columns / 65536))
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: bands * columns)
    defer { partial.deallocate() }
    partial.initialize(repeating: 0, count: bands * columns)
    let per = (rows + bands - 1) / bands
    parallelFor(bands) { band in
        let sum = partial + band * columns
        for r in (band * per)..<min(rows, (band + 1) * per) {
            let row = x + r * columns
            for c in 0..<columns { sum[c] += row[c] }
        }
    }
    for band in 0..<bands {
        let sum = partial + band * columns
        for c in 0..<columns { into[c] += sum[c] }
    }
}
