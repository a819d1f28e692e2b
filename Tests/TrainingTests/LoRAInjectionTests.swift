import Testing
import TensorEngine
import Diffusion
@testable import Training
import TestSupport

/// Which layers get adapters and how they start (PEFT's defaults).
@Suite struct LoRAInjectionTests {
    @Test func targetsSelectTheLayerKindsPEFTWould() throws {
        let (unet, text, _) = try TrainingFixture("lora_unet").models()
        let attention = LoRAInjection.inject(into: unet, LoRAOptions(rank: 2, alpha: 2, targets: [.attention]))
        // sd1-tiny: 3 transformers (down 2, mid 1) + 3 in the up block = 6, two attentions each,
        // four projections each, A and B.
        #expect(attention.count == 6 * 2 * 4 * 2)
        #expect(attention.allSatisfy { $0.name.contains(".attn1.to_") || $0.name.contains(".attn2.to_") })
        let convs = LoRAInjection.inject(into: unet, LoRAOptions(rank: 2, alpha: 2, targets: [.resnetConvs]))
        #expect(convs.allSatisfy { $0.layout == .convChannelsLast && $0.name.contains(".resnets.") })
        #expect(!convs.contains { $0.name.hasPrefix("conv_in") || $0.name.contains("downsamplers") })
        let textParams = LoRAInjection.inject(into: text, LoRAOptions(rank: 2, alpha: 2, targets: [.textAttention, .textMLP, .attention]))
        #expect(textParams.count == text.layers.count * 6 * 2, "UNet targets must not touch the text encoder")
        #expect(textParams.allSatisfy { $0.part == .textEncoder && $0.qualifiedName.hasPrefix("text_encoder.encoder.layers.") })
    }

    /// B starts at zero (the model is unchanged), A is U(−1/√fan_in, 1/√fan_in), the same seed
    /// gives the same values and the order is the model's layer order, A before B.
    @Test func peftDefaultInitialisation() throws {
        let fx = try TrainingFixture("lora_unet")
        let (unet, text, _) = try fx.models()
        let batch = try fx.batch(0)
        guard case .tokenIDs(let ids) = batch.conditioning else { Issue.record("fixture batch has no ids"); return }
        let context = noGrad { text.encode(ids).lastHiddenState }
        let timesteps = batch.timesteps.map(Float.init)
        let before = noGrad { unet(batch.latents, timesteps: timesteps, context: context) }.scalars

        let options = LoRAOptions(rank: 4, alpha: 8, targets: [.attention, .resnetConvs], seed: 7)
        let params = LoRAInjection.inject(into: unet, options)
        #expect(noGrad { unet(batch.latents, timesteps: timesteps, context: context) }.scalars == before)
        for pair in stride(from: 0, to: params.count, by: 2) {
            let (a, b) = (params[pair], params[pair + 1])
            #expect(a.name.hasSuffix(".lora_A.weight") && b.name.hasSuffix(".lora_B.weight"))
            #expect(a.name.dropLast(14) == b.name.dropLast(14))
            #expect(b.tensor.scalars.allSatisfy { $0 == 0 })
            let fanIn = a.tensor.count / options.rank
            let bound = 1 / Float(fanIn).squareRoot()
            #expect(a.tensor.scalars.allSatisfy { abs($0) <= bound })
            #expect(a.tensor.scalars.contains { abs($0) > bound / 2 }, "\(a.name) does not look uniform over ±\(bound)")
        }
        let again = LoRAInjection.inject(into: try fx.models().unet, options)
        #expect(again.map(\.qualifiedName) == params.map(\.qualifiedName))
        #expect(zip(again, params).allSatisfy { $0.tensor.scalars == $1.tensor.scalars })
    }

    /// Gradient checkpointing changes memory, not the step: same loss and gradients.
    @Test func gradientCheckpointingGivesTheSameStep() throws {
        let fx = try TrainingFixture("lora_unet")
        var results: [(Float, [[Float]])] = []
        for checkpointing in [false, true] {
            let (unet, text, schedule) = try fx.models()
            unet.gradientCheckpointing = checkpointing
            text.gradientCheckpointing = checkpointing
            let params = LoRAInjection.inject(into: unet, LoRAOptions(rank: 4, alpha: 8, targets: [.attention]))
            for p in params { p.load(pytorchValues: try fx.floats("init.\(p.qualifiedName)")) }
            let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                           optimizer: fx.optimizerOptions())
            let loss = trainer.accumulate(try fx.batch(0))
            results.append((loss.total, params.map { $0.tensor.grad?.scalars ?? [] }))
        }
        #expect(results[0].0 == results[1].0)
        for (a, b) in zip(results[0].1, results[1].1) { expectClose(a, b, rtol: 1e-5, atol: 1e-8, "gradient with checkpointing") }
    }
}
