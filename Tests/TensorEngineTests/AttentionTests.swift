import Foundation
import Testing
@testable import TensorEngine
import TestSupport

/// Flash attention forward and backward against PyTorch's scaled_dot_product_attention
/// (scripts/fixtures/engine_kernels.py). Tolerance: rtol 1e-4, atol 1e-5 against a float64
/// reference. Each fixture runs with the production tiles and with tiles small enough that
/// every query and key range spans several of them (exercising the online-softmax rescale and
/// the split of keys into groups in backward).
struct AttentionTests {
    static let fixtures = ["attention_self", "attention_cross", "attention_long"]
    static let rtol: Float = 1e-4, atol: Float = 1e-5

    static let tilings: [(String, AttentionTiling, AttentionTiling)] = [
        ("production", .forward, .backward),
        ("small tiles", AttentionTiling(query: 16, key: 8), AttentionTiling(query: 16, key: 8, backwardKeyGroups: 1)),
        ("small tiles, 3 key groups", AttentionTiling(query: 7, key: 24), AttentionTiling(query: 7, key: 4, backwardKeyGroups: 3)),
    ]

    @Test(arguments: fixtures)
    func forwardMatchesPyTorch(_ name: String) throws {
        let f = try AttentionFixture(name)
        for (label, forward, _) in Self.tilings {
            let (out, lse) = f.forward(tiling: forward)
            expectClose(out, f.out, rtol: Self.rtol, atol: Self.atol, "\(name) \(label) out")
            expectClose(lse, f.logSumExp, rtol: Self.rtol, atol: Self.atol, "\(name) \(label) logSumExp")
        }
    }

    /// Gradient buffers start at 0.25: backward must add to them.
    @Test(arguments: fixtures)
    func backwardAccumulatesPyTorchGradients(_ name: String) throws {
        let f = try AttentionFixture(name)
        for (label, _, backward) in Self.tilings {
            var gq = [Float](repeating: 0.25, count: f.q.count)
            var gk = [Float](repeating: 0.25, count: f.k.count)
            var gv = [Float](repeating: 0.25, count: f.v.count)
            f.q.withUnsafeBufferPointer { q in f.k.withUnsafeBufferPointer { k in f.v.withUnsafeBufferPointer { v in
                f.out.withUnsafeBufferPointer { o in f.logSumExp.withUnsafeBufferPointer { lse in f.gradOut.withUnsafeBufferPointer { go in
                    gq.withUnsafeMutableBufferPointer { gq in gk.withUnsafeMutableBufferPointer { gk in gv.withUnsafeMutableBufferPointer { gv in
                        attentionBackward(f.shape, tiling: backward, q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!,
                                          out: o.baseAddress!, logSumExp: lse.baseAddress!, gradOut: go.baseAddress!,
                                          gradQ: gq.baseAddress!, gradK: gk.baseAddress!, gradV: gv.baseAddress!)
                    } } }
                } } }
            } } }
            expectClose(gq, f.gradQ.map { $0 + 0.25 }, rtol: Self.rtol, atol: Self.atol, "\(name) \(label) grad q")
            expectClose(gk, f.gradK.map { $0 + 0.25 }, rtol: Self.rtol, atol: Self.atol, "\(name) \(label) grad k")
            expectClose(gv, f.gradV.map { $0 + 0.25 }, rtol: Self.rtol, atol: Self.atol, "\(name) \(label) grad v")
        }
    }

    /// The public entry points (production tiles, automatic key groups) on the cross-attention fixture.
    @Test func publicEntryPointsMatch() throws {
        let f = try AttentionFixture("attention_cross")
        var out = [Float](repeating: .nan, count: f.out.count)
        var lse = [Float](repeating: .nan, count: f.logSumExp.count)
        var gq = [Float](repeating: 0, count: f.q.count)
        var gk = [Float](repeating: 0, count: f.k.count)
        var gv = [Float](repeating: 0, count: f.v.count)
        f.q.withUnsafeBufferPointer { q in f.k.withUnsafeBufferPointer { k in f.v.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in lse.withUnsafeMutableBufferPointer { l in
                attentionForward(f.shape, q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!, out: o.baseAddress!, logSumExp: l.baseAddress!)
                f.gradOut.withUnsafeBufferPointer { go in
                    gq.withUnsafeMutableBufferPointer { gq in gk.withUnsafeMutableBufferPointer { gk in gv.withUnsafeMutableBufferPointer { gv in
                        attentionBackward(f.shape, q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!,
                                          out: o.baseAddress!, logSumExp: l.baseAddress!, gradOut: go.baseAddress!,
                                          gradQ: gq.baseAddress!, gradK: gk.baseAddress!, gradV: gv.baseAddress!)
                    } } }
                }
            } }
        } } }
        expectClose(out, f.out, rtol: Self.rtol, atol: Self.atol, "out")
        expectClose(gq, f.gradQ, rtol: Self.rtol, atol: Self.atol, "grad q")
        expectClose(gk, f.gradK, rtol: Self.rtol, atol: Self.atol, "grad k")
        expectClose(gv, f.gradV, rtol: Self.rtol, atol: Self.atol, "grad v")
    }

    @Test func vectorExp2IsAccurate() {
        var worst: Float = 0
        var x: Float = -125.9
        while x < 127 {
            let got = vectorExp2(SIMD8(repeating: x))[0], want = Float(pow(2, Double(x)))
            worst = max(worst, abs(got - want) / want)
            x += 0.0137
        }
        #expect(worst < 5e-7, "worst relative error \(worst)")
        #expect(vectorExp2(SIMD8(repeating: -1000))[0] < 1.2e-38)
        #expect(vectorExp2(SIMD8(repeating: 0))[0] == 1)
        #expect(vectorExp2(SIMD8(repeating: 3))[0] == 8)
    }

    @Test func shapeDefaultsAndFLOPs() {
        let s = AttentionShape(batch: 1, heads: 8, queryLength: 4096, keyLength: 77, headDim: 40)
        #expect(s.modelDim == 320)
        #expect(abs(s.scale - 1 / Float(40).squareRoot()) < 1e-7)
        #expect(s.forwardFLOPs == 4 * 8 * 4096 * 77 * 40)
    }
}

/// One attention fixture; tensors are already in the engine's layout.
struct AttentionFixture {
    let shape: AttentionShape
    let q, k, v, out, logSumExp, gradOut, gradQ, gradK, gradV: [Float]

    init(_ name: String) throws {
        let f = try Fixture("engine/kernels/\(name).safetensors")
        shape = AttentionShape(batch: try f.metaInt("batch"), heads: try f.metaInt("heads"),
                               queryLength: try f.metaInt("query_length"), keyLength: try f.metaInt("key_length"),
                               headDim: try f.metaInt("head_dim"))
        q = try f.floats("q"); k = try f.floats("k"); v = try f.floats("v")
        out = try f.floats("out"); logSumExp = try f.floats("log_sum_exp"); gradOut = try f.floats("grad_out")
        gradQ = try f.floats("grad_q"); gradK = try f.floats("grad_k"); gradV = try f.floats("grad_v")
    }

    func forward(tiling: AttentionTiling) -> (out: [Float], logSumExp: [Float]) {
        var out = [Float](repeating: .nan, count: self.out.count)
        var lse = [Float](repeating: .nan, count: logSumExp.count)
        q.withUnsafeBufferPointer { q in k.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in lse.withUnsafeMutableBufferPointer { l in
                attentionForward(shape, tiling: tiling, q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!,
                                 out: o.baseAddress!, logSumExp: l.baseAddress!)
            } }
        } } }
        return (out, lse)
    }
}
