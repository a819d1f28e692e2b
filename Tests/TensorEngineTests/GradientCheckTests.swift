import Testing
import TensorEngine
import TestSupport

// Finite-difference checks, independent of PyTorch. The loss is L = Σ f(inputs) · R for a
// fixed random R, evaluated in float32 with sums in Double; central differences with
// h = 1e-2 have O(h²) truncation and ~1e-5·|L|/h rounding error, so the tolerance is
// |analytic − numeric| ≤ 2e-3 + 2e-2·|numeric|.

func gradientCheck(_ shapes: [[Int]], seed: UInt64, h: Float = 1e-2, sourceLocation: SourceLocation = #_sourceLocation,
                           _ f: ([Tensor]) -> Tensor) {
    var rng = PhiloxRandom(seed: seed)
    let inputs = shapes.map { s -> Tensor in let t = rng.normal(shape: s); t.requiresGrad = true; return t }
    let out = f(inputs)
    let r = rng.normal(shape: out.shape)
    out.backward(gradient: r)

    func loss() -> Double {
        let y = noGrad { f(inputs) }
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(r.data[i]) }
        return s
    }
    for (k, x) in inputs.enumerated() {
        var numeric = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + h; let plus = loss()
            x.data[i] = saved - h; let minus = loss()
            x.data[i] = saved
            numeric[i] = Float((plus - minus) / (2 * Double(h)))
        }
        expectClose(x.grad?.scalars ?? [], numeric, rtol: 2e-2, atol: 2e-3, "input \(k) gradient", sourceLocation: sourceLocation)
    }
}

@Suite struct GradientCheckTests {
    @Test func groupNormSiLUWithAffine() {
        gradientCheck([[2, 3, 2, 4], [4], [4]], seed: 1) { groupNorm($0[0], groups: 2, weight: $0[1], bias: $0[2], silu: true) }
    }

    @Test func layerNormAndSoftmax() {
        gradientCheck([[3, 5], [5], [5]], seed: 2) { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
        gradientCheck([[2, 3, 6]], seed: 3) { softmax($0[0] * 2) }
    }

    @Test func linearWithLoRAAndGEGLU() {
        gradientCheck([[2, 3, 5], [8, 5], [8], [2, 5], [8, 2]], seed: 4) {
            geglu(linear($0[0], weight: $0[1], bias: $0[2], lora: LoRA(down: $0[3], up: $0[4], scale: 0.7)))
        }
    }

    @Test func broadcastsAndLayout() {
        // time embedding [N, C] over NHWC, per-channel bias, upsample, concat, head split
        gradientCheck([[2, 2, 3, 4], [2, 4], [4], [2, 4, 6, 3]], seed: 5) { t in
            let a = t[0] * t[1].reshaped([2, 1, 1, 4]) - t[2]
            let up = concatLast([upsampleNearest2x(a), t[3]])
            return up.reshaped([2, 24, 7]).permuted([1, 0, 2])
        }
    }

    @Test func weightedMSEAndMatmul() {
        gradientCheck([[2, 3, 4], [2, 4, 3], [2, 3, 3]], seed: 6) { t in
            weightedMSELoss(matmul(t[0], t[1]), t[2], sampleWeights: [0.3, 1.5]).reshaped([1])
        }
    }

    @Test func activationsAwayFromZero() {
        gradientCheck([[4, 6]], seed: 7) { t in
            concatLast([gelu(t[0]), gelu(t[0], approximateTanh: true), quickGELU(t[0]), silu(t[0])])
        }
    }
}

@Suite struct ConcatSliceTests {
    @Test func concatAndSliceAlongAnyAxis() {
        let a = Tensor((0..<12).map(Float.init), shape: [2, 3, 2])
        let b = Tensor((100..<104).map(Float.init), shape: [2, 1, 2])
        let c = concat([a, b], axis: 1)
        #expect(c.shape == [2, 4, 2])
        #expect(c.scalars == [0, 1, 2, 3, 4, 5, 100, 101, 6, 7, 8, 9, 10, 11, 102, 103])
        #expect(slice(c, axis: 1, start: 3, length: 1).scalars == b.scalars)
        #expect(slice(c, axis: 0, start: 1, length: 1).scalars == [6, 7, 8, 9, 10, 11, 102, 103])
        gradientCheck([[2, 3, 2], [2, 1, 2]], seed: 8) { t in
            slice(concat([t[0], t[1]], axis: 1), axis: 1, start: 1, length: 3) * 1.5
        }
    }
}
