import Testing
import TensorEngine
@testable import Diffusion
import TestSupport

/// LoRA hooks on Linear and Conv2d: same result as the merged weight, gradients reach the
/// adapter through a frozen UNet, with and without gradient checkpointing.
@Suite struct ModelLoRATests {
    func seeded(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
        var rng = PhiloxRandom(seed: seed)
        return rng.normal(shape: shape, std: std)
    }

    @Test func linearLoRAEqualsMergedWeight() {
        let (inF, outF, r) = (6, 5, 2)
        let w = seeded([outF, inF], seed: 1), down = seeded([r, inF], seed: 2), up = seeded([outF, r], seed: 3)
        let layer = Linear(name: "l", weight: w, bias: seeded([outF], seed: 4))
        layer.lora = LoRA(down: down, up: up, scale: 0.5)
        let x = seeded([3, inF], seed: 5)
        let merged = Linear(name: "m", weight: noGrad { w + matmul(up, down) * 0.5 }, bias: layer.bias)
        expectClose(noGrad { layer(x) }.scalars, noGrad { merged(x) }.scalars, rtol: 1e-5, atol: 1e-5, "linear LoRA")
    }

    @Test func convLoRAEqualsMergedWeight() {
        let (cin, cout, r, k) = (3, 4, 2, 3)
        let w = seeded([cout, k, k, cin], seed: 1), down = seeded([r, k, k, cin], seed: 2), up = seeded([cout, 1, 1, r], seed: 3)
        let layer = Conv2d(name: "c", weight: w, bias: seeded([cout], seed: 4), stride: 1, padding: 1)
        layer.lora = ConvLoRA(down: down, up: up, scale: 0.25)
        // merged[o, y, x, i] = w + 0.25 · Σ_r up[o, r] · down[r, y, x, i]
        let delta = noGrad { matmul(up.reshaped([cout, r]), down.reshaped([r, k * k * cin])) * 0.25 }
        let merged = Conv2d(name: "m", weight: noGrad { w + delta.reshaped(w.shape) }, bias: layer.bias, stride: 1, padding: 1)
        let x = seeded([2, 5, 5, cin], seed: 5)
        expectClose(noGrad { layer(x) }.scalars, noGrad { merged(x) }.scalars, rtol: 1e-5, atol: 1e-5, "conv LoRA")
    }

    /// LoRA on every attention projection and resnet conv1 of a frozen UNet: zero-initialised
    /// `up` leaves the output unchanged; gradients reach every adapter, identically with
    /// gradient checkpointing.
    @Test func gradientsReachAdaptersThroughFrozenUNet() throws {
        let tiny = TinyModel(name: "sd2-tiny")
        let ref = try tiny.outputs("unet")
        let latents = try ref.tensor("latents", nhwc: true)
        let context = try ref.tensor("context")
        let timesteps = try ref.floats("timesteps")
        var results: [[[Float]]] = []
        for checkpointing in [false, true] {
            let unet = try tiny.unet()
            unet.gradientCheckpointing = checkpointing
            var adapters: [Tensor] = []
            for (i, layer) in unet.linearLayers.enumerated() where [".to_q", ".to_k", ".to_v", ".to_out.0"].contains(where: layer.name.hasSuffix) {
                let down = seeded([2, layer.inFeatures], seed: UInt64(100 + i), std: 0.1), up = seeded([layer.outFeatures, 2], seed: UInt64(900 + i), std: 0.1)
                down.requiresGrad = true; up.requiresGrad = true
                layer.lora = LoRA(down: down, up: up, scale: 1)
                adapters += [down, up]
            }
            for (i, layer) in unet.convLayers.enumerated() where layer.name.hasSuffix(".conv1") {
                let down = seeded([2, 3, 3, layer.inChannels], seed: UInt64(300 + i), std: 0.1), up = seeded([layer.outChannels, 1, 1, 2], seed: UInt64(700 + i), std: 0.1)
                down.requiresGrad = true; up.requiresGrad = true
                layer.lora = ConvLoRA(down: down, up: up, scale: 1)
                adapters += [down, up]
            }
            // 10 transformer blocks (1 + 2 down, 1 mid, 4 + 2 up) · 2 attentions · 4 projections; 11 resnets
            #expect(adapters.count == 2 * (10 * 2 * 4 + 11))
            let out = unet(latents, timesteps: timesteps, context: context)
            out.backward(gradient: try ref.tensor("grad_out", nhwc: true))
            let grads = try adapters.map { try #require($0.grad).scalars }
            #expect(grads.allSatisfy { g in g.contains { $0 != 0 } })
            #expect(unet.parameters.values.allSatisfy { $0.grad == nil })   // frozen weights get none
            results.append(grads)
        }
        for (a, b) in zip(results[0], results[1]) {
            expectClose(b, a, rtol: 1e-4, atol: 1e-6, "checkpointed LoRA gradient")
        }
    }

    @Test func zeroUpLeavesOutputUnchanged() throws {
        let tiny = TinyModel(name: "sd1-tiny")
        let ref = try tiny.outputs("unet")
        let unet = try tiny.unet()
        for layer in unet.linearLayers where layer.name.hasSuffix("attn2.to_k") {
            layer.lora = LoRA(down: seeded([4, layer.inFeatures], seed: 1), up: Tensor(zeros: [layer.outFeatures, 4]), scale: 1)
        }
        let out = noGrad { unet(try! ref.tensor("latents", nhwc: true), timesteps: try! ref.floats("timesteps"), context: try! ref.tensor("context")) }
        expectClose(nchwValues(out), try ref.floats("out"), rtol: modelRtol, atol: modelAtol, "UNet with zero LoRA")
    }
}
