import Testing
import TensorEngine
@testable import Training
import TestSupport

/// The optimiser alone: given diffusers' own gradients, clipping and AdamW give diffusers'
/// parameters after the step to float32 rounding (the end-to-end tests allow for gradient
/// rounding too).
@Suite struct AdamWParityTests {
    @Test(arguments: ["lora_unet", "lora_unet_text", "vprediction_minsnr"])
    func adamWFedReferenceGradientsMatchesTorch(case name: String) throws {
        let fx = try TrainingFixture(name)
        let names = fx.file.names.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) }
        let params = try names.map { n -> Tensor in
            let init0 = try fx.floats("init.\(n)")
            let t = Tensor(init0, shape: [init0.count])
            t.requiresGrad = true
            t.grad = Tensor(try fx.floats("grad.\(n)"), shape: [init0.count])
            return t
        }
        if let maxNorm = fx.float("maxGradNorm") {
            let norm = clipGradientNorm(params, maxNorm: maxNorm)
            expectClose([norm], [try fx.value("gradnorm.s0")], rtol: 1e-5, atol: 0, "global gradient norm")
        }
        let adam = AdamW(parameters: params, hyperparameters: fx.adam)
        adam.update(lr: fx.float("lr")!)
        for (n, p) in zip(names, params) {
            expectClose(p.scalars, try fx.floats("after.\(n)"), rtol: 1e-6, atol: 1e-9, "\(n) after AdamW")
        }
    }
}
