import Testing
@testable import TensorEngine
import TestSupport

/// Conv2D forward and backward against PyTorch (scripts/fixtures/engine_kernels.py), for every
/// lowering that supports the shape. Tolerance: rtol 1e-4, atol 1e-5 (float32 sums of up to
/// 216 products against a float64 reference).
struct Conv2DTests {
    static let fixtures = [
        "conv3x3_s1_p1_bias", "conv3x3_s1_p0", "conv3x3_s2_p1", "conv3x3_s2_p0_bias",
        "conv1x1_s1_p0_bias", "conv1x1_s2_p0", "conv3x3_s1_p1_wide",
    ]
    static let rtol: Float = 1e-4, atol: Float = 1e-5

    @Test(arguments: fixtures)
    func forwardMatchesPyTorch(_ name: String) throws {
        let f = try ConvFixture(name)
        for method in Conv2DMethod.allCases where method.supports(f.shape) {
            var output = [Float](repeating: .nan, count: f.shape.outputCount)
            f.input.withUnsafeBufferPointer { x in f.weight.withUnsafeBufferPointer { w in
                withOptionalPointer(f.bias) { b in output.withUnsafeMutableBufferPointer { y in
                    conv2dForward(f.shape, method: method, input: x.baseAddress!, weight: w.baseAddress!,
                                  bias: b, output: y.baseAddress!)
                } }
            } }
            expectClose(output, f.output, rtol: Self.rtol, atol: Self.atol, "\(name) \(method) output")
        }
    }

    /// Gradient buffers start at 0.5 so the test also checks they are added to, not overwritten.
    @Test(arguments: fixtures)
    func backwardAccumulatesPyTorchGradients(_ name: String) throws {
        let f = try ConvFixture(name)
        for method in Conv2DMethod.allCases where method.supports(f.shape) {
            let g = f.backward(method: method, input: true, weight: true, bias: f.bias != nil, initial: 0.5)
            expectClose(g.input!, f.gradInput.map { $0 + 0.5 }, rtol: Self.rtol, atol: Self.atol, "\(name) \(method) grad input")
            expectClose(g.weight!, f.gradWeight.map { $0 + 0.5 }, rtol: Self.rtol, atol: Self.atol, "\(name) \(method) grad weight")
            if let gradBias = f.gradBias {
                expectClose(g.bias!, gradBias.map { $0 + 0.5 }, rtol: Self.rtol, atol: Self.atol, "\(name) \(method) grad bias")
            }
        }
    }

    /// Each gradient alone (the others nil, as for frozen weights or the network's input) is
    /// still right: the skipped work must not have been feeding the requested one.
    @Test(arguments: ["conv3x3_s1_p1_bias", "conv3x3_s2_p0_bias", "conv1x1_s1_p0_bias"])
    func eachGradientAloneMatches(_ name: String) throws {
        let f = try ConvFixture(name)
        for method in Conv2DMethod.allCases where method.supports(f.shape) {
            let onlyInput = f.backward(method: method, input: true, weight: false, bias: false, initial: 0)
            #expect(onlyInput.weight == nil && onlyInput.bias == nil)
            expectClose(onlyInput.input!, f.gradInput, rtol: Self.rtol, atol: Self.atol, "\(name) \(method) input only")
            let onlyWeight = f.backward(method: method, input: false, weight: true, bias: false, initial: 0)
            expectClose(onlyWeight.weight!, f.gradWeight, rtol: Self.rtol, atol: Self.atol, "\(name) \(method) weight only")
            let onlyBias = f.backward(method: method, input: false, weight: false, bias: true, initial: 0)
            expectClose(onlyBias.bias!, f.gradBias!, rtol: Self.rtol, atol: Self.atol, "\(name) \(method) bias only")
        }
    }

    @Test func defaultMethodFollowsShape() {
        let pointwise = Conv2DShape(batch: 1, height: 8, width: 8, inChannels: 4, outChannels: 4, kernelH: 1, kernelW: 1)
        let same = Conv2DShape(batch: 1, height: 8, width: 8, inChannels: 4, outChannels: 4, kernelH: 3, kernelW: 3, padding: 1)
        let down = Conv2DShape(batch: 1, height: 8, width: 8, inChannels: 4, outChannels: 4, kernelH: 3, kernelW: 3, stride: 2, padding: 1)
        #expect(Conv2DMethod.default(for: pointwise) == .pointwise)
        #expect(Conv2DMethod.default(for: same) == .shiftedTaps)
        #expect(Conv2DMethod.default(for: down) == .im2colTiles)
        #expect(down.outHeight == 4 && down.outWidth == 4)
        #expect(!Conv2DMethod.shiftedTaps.supports(down))
    }

    /// A tile budget smaller than the image forces several im2col tiles (and col2im across tile
    /// borders) on the fixture shapes, which otherwise fit in one tile.
    @Test(arguments: ["conv3x3_s1_p1_wide", "conv3x3_s2_p1"])
    func im2colWithManyTilesMatches(_ name: String) throws {
        let f = try ConvFixture(name)
        let tiling = Im2colTiling(f.shape, budget: f.shape.outWidth * f.shape.patchSize * 2)
        #expect(tiling.rowsPerTile == 2)
        let g = f.backward(method: .im2colTiles, input: true, weight: true, bias: false, initial: 0, tiling: tiling)
        expectClose(g.input!, f.gradInput, rtol: Self.rtol, atol: Self.atol, "\(name) tiled grad input")
        expectClose(g.weight!, f.gradWeight, rtol: Self.rtol, atol: Self.atol, "\(name) tiled grad weight")
        var output = [Float](repeating: .nan, count: f.shape.outputCount)
        f.input.withUnsafeBufferPointer { x in f.weight.withUnsafeBufferPointer { w in withOptionalPointer(f.bias) { b in
            output.withUnsafeMutableBufferPointer { y in
                conv2dForwardIm2col(f.shape, tiling: tiling, input: x.baseAddress!, weight: w.baseAddress!, bias: b, output: y.baseAddress!)
            }
        } } }
        expectClose(output, f.output, rtol: Self.rtol, atol: Self.atol, "\(name) tiled output")
    }
}

/// One conv fixture converted to the engine's layouts (NHWC, OHWI).
struct ConvFixture {
    let shape: Conv2DShape
    let input, weight, output, gradOutput, gradInput, gradWeight: [Float]
    let bias, gradBias: [Float]?

    init(_ name: String) throws {
        let f = try Fixture("engine/kernels/\(name).safetensors")
        let k = try f.metaInt("kernel")
        shape = Conv2DShape(
            batch: try f.metaInt("batch"), height: try f.metaInt("height"), width: try f.metaInt("width"),
            inChannels: try f.metaInt("in_channels"), outChannels: try f.metaInt("out_channels"),
            kernelH: k, kernelW: k, stride: try f.metaInt("stride"), padding: try f.metaInt("padding"))
        func image(_ name: String) throws -> [Float] { nchwToNHWC(try f.floats(name), shape: try f.shape(name)) }
        func kernel(_ name: String) throws -> [Float] { oihwToOHWI(try f.floats(name), shape: try f.shape(name)) }
        input = try image("input"); output = try image("output"); gradOutput = try image("grad_output")
        gradInput = try image("grad_input")
        weight = try kernel("weight"); gradWeight = try kernel("grad_weight")
        bias = f.has("bias") ? try f.floats("bias") : nil
        gradBias = f.has("grad_bias") ? try f.floats("grad_bias") : nil
    }

    struct Gradients { var input, weight, bias: [Float]? }

    /// Runs conv2dBackward with the requested gradients (buffers filled with `initial`), nil for the rest.
    func backward(method: Conv2DMethod, input wantInput: Bool, weight wantWeight: Bool, bias wantBias: Bool,
                  initial: Float, tiling: Im2colTiling? = nil) -> Gradients {
        var gi = wantInput ? [Float](repeating: initial, count: shape.inputCount) : nil
        var gw = wantWeight ? [Float](repeating: initial, count: shape.weightCount) : nil
        var gb = wantBias ? [Float](repeating: initial, count: shape.outChannels) : nil
        input.withUnsafeBufferPointer { x in weight.withUnsafeBufferPointer { w in gradOutput.withUnsafeBufferPointer { gy in
            withOptionalMutablePointer(&gi) { gi in withOptionalMutablePointer(&gw) { gw in withOptionalMutablePointer(&gb) { gb in
                if let tiling {
                    conv2dBackwardIm2col(shape, tiling: tiling, input: x.baseAddress!, weight: w.baseAddress!,
                                         gradOutput: gy.baseAddress!, gradInput: gi, gradWeight: gw)
                    precondition(gb == nil, "the tiled im2col path has no bias gradient")
                } else {
                    conv2dBackward(shape, method: method, input: x.baseAddress!, weight: w.baseAddress!,
                                   gradOutput: gy.baseAddress!, gradInput: gi, gradWeight: gw, gradBias: gb)
                }
            } } }
        } } }
        return Gradients(input: gi, weight: gw, bias: gb)
    }
}

func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}

func withOptionalMutablePointer<R>(_ array: inout [Float]?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard array != nil else { return body(nil) }
    return array!.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
