import Testing
@testable import TensorEngine

/// Winograd F(2x2, 3x3) and F(4x4, 3x3), forward and input gradient, against the shifted-tap
/// GEMMs (the direct sum) on shapes that exercise partial tiles (output sides that are not a
/// multiple of the tile), zero, one and two padding, channel counts that are not a multiple of
/// the 8-lane vectors, batches, several tile blocks and bias. Winograd rounds differently (its
/// transforms scale values up before the sums and cancel after): the tolerance is 2e-5 of the
/// output's largest magnitude for F(2x2), about 40x float32's epsilon (measured: up to 2.3e-7),
/// and 5e-5 for F(4x4), whose transforms scale by up to ~100x (measured: up to 6.9e-6). The PyTorch fixtures (Conv2DTests) hold F(2x2) to
/// their rtol 1e-4, atol 1e-5 as well.
struct Conv2DWinogradTests {
    static let shapes: [Conv2DShape] = [
        Conv2DShape(batch: 1, height: 7, width: 9, inChannels: 5, outChannels: 3, kernelH: 3, kernelW: 3, padding: 1),
        Conv2DShape(batch: 2, height: 8, width: 8, inChannels: 8, outChannels: 16, kernelH: 3, kernelW: 3, padding: 0),
        Conv2DShape(batch: 2, height: 11, width: 6, inChannels: 19, outChannels: 13, kernelH: 3, kernelW: 3, padding: 1),
        Conv2DShape(batch: 1, height: 40, width: 36, inChannels: 24, outChannels: 40, kernelH: 3, kernelW: 3, padding: 1),
        Conv2DShape(batch: 3, height: 33, width: 35, inChannels: 32, outChannels: 17, kernelH: 3, kernelW: 3, padding: 2),
        Conv2DShape(batch: 1, height: 34, width: 39, inChannels: 9, outChannels: 21, kernelH: 3, kernelW: 3, padding: 0),
    ]

    /// The tolerance, relative to the largest output, for the tile `s` runs with.
    private func tolerance(_ s: Conv2DShape) -> Float { WinogradTile.for(s) == .four ? 5e-5 : 2e-5 }

    private func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    private func forward(_ s: Conv2DShape, _ method: Conv2DMethod, _ x: [Float], _ w: [Float], _ b: [Float]?) -> [Float] {
        var y = [Float](repeating: .nan, count: s.outputCount)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in withOptionalPointer(b) { bp in
            y.withUnsafeMutableBufferPointer { yp in
                conv2dForward(s, method: method, input: xp.baseAddress!, weight: wp.baseAddress!, bias: bp, output: yp.baseAddress!)
            }
        } } }
        return y
    }

    @Test(arguments: 0..<6, [false, true])
    func matchesShiftedTaps(index: Int, withBias: Bool) {
        let s = Self.shapes[index]
        let x = random(s.inputCount, seed: UInt64(index) + 1), w = random(s.weightCount, seed: UInt64(index) + 100)
        let b = withBias ? random(s.outChannels, seed: 7) : nil
        let expected = forward(s, .shiftedTaps, x, w, b)
        let actual = forward(s, .winograd, x, w, b)
        let scale = expected.map(abs).max() ?? 1
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst <= tolerance(s) * scale, "\(s) (F(\(WinogradTile.for(s).side)x\(WinogradTile.for(s).side))): largest difference \(worst) for outputs up to \(scale)")
        #expect(!actual.contains { $0.isNaN }, "\(s): an output pixel was not written")
    }

    /// The input gradient (a Winograd correlation with the flipped kernel) adds to what the
    /// buffer held, as the shifted taps' does; the weight gradient is the shifted taps' own.
    @Test(arguments: 0..<6)
    func inputGradientMatchesShiftedTaps(index: Int) {
        let s = Self.shapes[index]
        let x = random(s.inputCount, seed: UInt64(index) + 1), w = random(s.weightCount, seed: UInt64(index) + 100)
        let dy = random(s.outputCount, seed: UInt64(index) + 200), initial = random(s.inputCount, seed: 9)
        func gradients(_ method: Conv2DMethod) -> (input: [Float], weight: [Float]) {
            var dx = initial, dw = [Float](repeating: 0.25, count: s.weightCount)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { gp in
                dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                    conv2dBackward(s, method: method, input: xp.baseAddress!, weight: wp.baseAddress!, gradOutput: gp.baseAddress!,
                                   gradInput: dxp.baseAddress!, gradWeight: dwp.baseAddress!, gradBias: nil)
                } }
            } } }
            return (dx, dw)
        }
        let expected = gradients(.shiftedTaps), actual = gradients(.winograd)
        let scale = expected.input.map(abs).max() ?? 1
        let worst = zip(actual.input, expected.input).map { abs($0 - $1) }.max() ?? .nan
        let backward = Conv2DShape(batch: s.batch, height: s.outHeight, width: s.outWidth, inChannels: s.outChannels,
                                   outChannels: s.inChannels, kernelH: 3, kernelW: 3, padding: 2 - s.padding)
        #expect(worst <= tolerance(backward) * scale, "\(s): largest input-gradient difference \(worst) for values up to \(scale)")
        #expect(actual.weight == expected.weight)
    }

    /// `withCount` holds inside its body only, and there for every parallel loop it runs.
    @Test func threadCountOverrideIsLocal() {
        let configured = EngineThreads.count
        let (inside, chunks) = EngineThreads.withCount(1) { () -> (Int, Int) in
            var chunks = 0
            parallelChunks(1 << 20, minimumPerThread: 1) { _ in chunks += 1 }
            return (EngineThreads.count, chunks)
        }
        #expect(inside == 1 && chunks == 1)
        #expect(EngineThreads.count == configured)
    }

    /// The result depends on the shape only: the same with one engine thread as with several.
    @Test func sameBitsOnOneThread() {
        let s = Self.shapes[3]
        let x = random(s.inputCount, seed: 5), w = random(s.weightCount, seed: 6)
        let many = forward(s, .winograd, x, w, nil)
        let one = EngineThreads.withCount(1) { forward(s, .winograd, x, w, nil) }
        #expect(one == many)
    }

    @Test func chosenForLargeMapsOnly() {
        let unet64 = Conv2DShape(batch: 1, height: 64, width: 64, inChannels: 320, outChannels: 320, kernelH: 3, kernelW: 3, padding: 1)
        let unet8 = Conv2DShape(batch: 1, height: 8, width: 8, inChannels: 1280, outChannels: 1280, kernelH: 3, kernelW: 3, padding: 1)
        let rgb = Conv2DShape(batch: 1, height: 64, width: 64, inChannels: 4, outChannels: 320, kernelH: 3, kernelW: 3, padding: 1)
        let strided = Conv2DShape(batch: 1, height: 64, width: 64, inChannels: 320, outChannels: 320, kernelH: 3, kernelW: 3, stride: 2, padding: 1)
        #expect(Conv2DMethod.default(for: unet64) == .winograd)
        #expect(Conv2DMethod.default(for: unet8) == .shiftedTaps)
        #expect(Conv2DMethod.default(for: rgb) == .shiftedTaps)
        #expect(Conv2DMethod.default(for: strided) == .im2colTiles)
        #expect(!Conv2DMethod.winograd.supports(strided))
        #expect(WinogradTile.for(unet64) == .four)
        #expect(WinogradTile.for(Conv2DShape(batch: 1, height: 16, width: 16, inChannels: 1280, outChannels: 1280,
                                             kernelH: 3, kernelW: 3, padding: 1)) == .two)
    }
}
