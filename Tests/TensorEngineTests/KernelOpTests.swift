import Testing
import TensorEngine
import TestSupport

// conv2d and attention as differentiable ops: the kernels' PyTorch fixtures
// (Tests/Fixtures/engine/kernels, from scripts/fixtures/engine_kernels.py) through the tape,
// frozen inputs, finite differences and checkpointing through a small network.
// Tolerance against PyTorch: rtol 1e-4, atol 1e-5 (GEMM sums), as the kernel tests use.

private extension Fixture {
    /// A PyTorch OIHW conv weight as the engine's [Cout, KH, KW, Cin].
    func convWeight(_ name: String, requiresGrad: Bool) throws -> Tensor {
        let s = try shape(name)
        let t = Tensor(oihwToOHWI(try floats(name), shape: s), shape: [s[0], s[2], s[3], s[1]])
        t.requiresGrad = requiresGrad
        return t
    }
}

@Suite struct KernelOpTests {
    @Test(arguments: ["conv3x3_s1_p1_bias", "conv3x3_s2_p1", "conv3x3_s2_p0_bias", "conv1x1_s1_p0_bias", "conv1x1_s2_p0"])
    func conv2dGradientsFlowThroughTheTape(name: String) throws {
        let f = try Fixture("engine/kernels/\(name).safetensors")
        let x = try f.tensor("input", nhwc: true, requiresGrad: true)
        let w = try f.convWeight("weight", requiresGrad: true)
        let bias = f.has("bias") ? try f.tensor("bias", requiresGrad: true) : nil
        let y = conv2d(x, weight: w, bias: bias, stride: try f.metaInt("stride"), padding: try f.metaInt("padding"))
        expectClose(y.scalars, try f.values("output", nhwc: true), rtol: 1e-4, atol: 1e-5, "\(name) output")
        // The gradient enters through a reshape node, so the tape (not the test) calls conv's backward.
        y.reshaped([-1]).backward(gradient: Tensor(try f.values("grad_output", nhwc: true), shape: [y.count]))
        expectClose(x.grad?.scalars ?? [], try f.values("grad_input", nhwc: true), rtol: 1e-4, atol: 1e-5, "\(name) grad_input")
        expectClose(w.grad?.scalars ?? [], oihwToOHWI(try f.floats("grad_weight"), shape: try f.shape("weight")),
                    rtol: 1e-4, atol: 1e-5, "\(name) grad_weight")
        if let bias { expectClose(bias.grad?.scalars ?? [], try f.floats("grad_bias"), rtol: 1e-4, atol: 1e-5, "\(name) grad_bias") }
    }

    @Test func frozenConvWeightGetsNoGradient() throws {
        let f = try Fixture("engine/kernels/conv3x3_s1_p1_bias.safetensors")
        let x = try f.tensor("input", nhwc: true, requiresGrad: true)
        let w = try f.convWeight("weight", requiresGrad: false)
        let b = try f.tensor("bias")
        let y = conv2d(x, weight: w, bias: b, padding: 1)
        y.backward(gradient: try f.tensor("grad_output", nhwc: true))
        #expect(w.grad == nil && b.grad == nil)
        expectClose(x.grad?.scalars ?? [], try f.values("grad_input", nhwc: true), rtol: 1e-4, atol: 1e-5, "grad_input")
    }

    @Test(arguments: ["attention_self", "attention_cross"])
    func attentionGradientsFlowThroughTheTape(name: String) throws {
        let f = try Fixture("engine/kernels/\(name).safetensors")
        let q = try f.tensor("q", requiresGrad: true), k = try f.tensor("k", requiresGrad: true), v = try f.tensor("v", requiresGrad: true)
        let y = attention(q: q, k: k, v: v, heads: try f.metaInt("heads"))
        expectClose(y.scalars, try f.floats("out"), rtol: 1e-4, atol: 1e-5, "\(name) out")
        y.reshaped([-1]).backward(gradient: Tensor(try f.floats("grad_out"), shape: [y.count]))
        expectClose(q.grad?.scalars ?? [], try f.floats("grad_q"), rtol: 1e-4, atol: 1e-5, "\(name) grad_q")
        expectClose(k.grad?.scalars ?? [], try f.floats("grad_k"), rtol: 1e-4, atol: 1e-5, "\(name) grad_k")
        expectClose(v.grad?.scalars ?? [], try f.floats("grad_v"), rtol: 1e-4, atol: 1e-5, "\(name) grad_v")
    }

    /// conv → GroupNorm+SiLU → tokens → LoRA projections → attention → output projection,
    /// against central differences (tolerance as GradientCheckTests).
    @Test func finiteDifferencesThroughConvAndAttention() {
        gradientCheck([[1, 3, 3, 2], [4, 3, 3, 2], [4], [6, 4], [2, 4], [6, 2], [4, 2]], seed: 11) { t in
            let h = groupNorm(conv2d(t[0], weight: t[1], bias: t[2], padding: 1), groups: 2, weight: nil, bias: nil, silu: true)
            let tokens = h.reshaped([1, 9, 4])
            let qkv = linear(tokens, weight: t[3], lora: LoRA(down: t[4], up: t[5], scale: 0.5))
            let (q, k, v) = (slice(qkv, axis: 2, start: 0, length: 2), slice(qkv, axis: 2, start: 2, length: 2), slice(qkv, axis: 2, start: 4, length: 2))
            return linear(attention(q: q, k: k, v: v, heads: 1), weight: t[6])
        }
    }

    @Test func checkpointedConvAttentionBlockMatches() {
        func run(checkpointed: Bool) -> [[Float]] {
            var rng = PhiloxRandom(seed: 21)
            let x = rng.normal(shape: [2, 4, 4, 8]); x.requiresGrad = true
            let w = rng.normal(shape: [8, 3, 3, 8], std: 0.2)
            let down = rng.normal(shape: [2, 8], std: 0.3); down.requiresGrad = true
            let up = rng.normal(shape: [8, 2], std: 0.3); up.requiresGrad = true
            let proj = rng.normal(shape: [8, 8], std: 0.3)
            let block: ([Tensor]) -> Tensor = { inputs in
                let h = conv2d(inputs[0], weight: w, padding: 1).reshaped([2, 16, 8])
                let q = linear(h, weight: proj, lora: LoRA(down: down, up: up, scale: 1))
                return attention(q: q, k: h, v: h, heads: 2).reshaped([2, 4, 4, 8]) + inputs[0]
            }
            let y = checkpointed ? checkpoint([x], block) : block([x])
            mean(y * y).backward()
            return [x.grad!.scalars, down.grad!.scalars, up.grad!.scalars]
        }
        let (plain, ckpt) = (run(checkpointed: false), run(checkpointed: true))
        for i in 0..<3 { expectClose(ckpt[i], plain[i], rtol: 1e-6, atol: 1e-7, "gradient \(i)") }
    }
}
