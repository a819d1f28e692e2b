import Testing
import TensorEngine
import Diffusion
@testable import Training
import TestSupport

/// One training step against diffusers+peft on the tiny models (scripts/fixtures/training.py):
/// the same loss, the same gradients of every trained tensor, the same tensors after AdamW.
@Suite struct TrainingStepParityTests {
    /// Runs the fixture's optimiser steps with `trainer`, comparing as it goes. `key` maps a
    /// parameter to its fixture name (nil: not recorded).
    func replay(_ fx: TrainingFixture, _ trainer: DiffusionTrainer, key: (TrainableParameter) -> String? = { $0.qualifiedName }) throws {
        for (s, micros) in fx.steps.enumerated() {
            for i in micros {
                let loss = trainer.accumulate(try fx.batch(i))
                expectClose([loss.total], [try fx.value("loss.m\(i)")], rtol: Tolerance.loss.rtol, atol: Tolerance.loss.atol, "loss of micro-batch \(i)")
                if fx.has("loss.m\(i).prior") {
                    expectClose([try #require(loss.instance), try #require(loss.prior)],
                                [try fx.value("loss.m\(i).instance"), try fx.value("loss.m\(i).prior")],
                                rtol: Tolerance.loss.rtol, atol: Tolerance.loss.atol, "instance and prior losses")
                }
            }
            if s == 0 {
                for p in trainer.parameters {
                    guard let name = key(p), fx.has("grad.\(name)") else { continue }
                    let grad = try #require(p.tensor.grad, "no gradient for \(name)")
                    expectClose(p.pytorchValues(of: grad), try fx.floats("grad.\(name)"),
                                rtol: Tolerance.gradient.rtol, atol: Tolerance.gradient.atol, "gradient of \(name)")
                }
            }
            let report = trainer.update()
            if fx.has("gradnorm.s\(s)") {
                expectClose([try #require(report.gradientNorm)], [try fx.value("gradnorm.s\(s)")], rtol: 1e-4, atol: 0, "gradient norm at step \(s + 1)")
            }
            let prefix = s == 0 ? "after" : "after2"
            let tolerance = Tolerance.parameter(learningRate: report.learningRate)
            var compared = 0
            for p in trainer.parameters {
                guard let name = key(p), fx.has("\(prefix).\(name)") else { continue }
                expectClose(p.pytorchValues(), try fx.floats("\(prefix).\(name)"),
                            rtol: tolerance.rtol, atol: tolerance.atol, "\(name) after step \(s + 1)")
                compared += 1
            }
            #expect(compared > 0, "no parameter compared after step \(s + 1)")
        }
    }

    /// Loads the fixture's initial values; every recorded LoRA factor must exist here and
    /// every injected one must be recorded (the same layers as PEFT's target_modules).
    func loadInitialValues(_ fx: TrainingFixture, _ parameters: [TrainableParameter]) throws {
        let recorded = Set(fx.file.names.filter { $0.hasPrefix("init.") }.map { String($0.dropFirst(5)) })
        #expect(Set(parameters.map(\.qualifiedName)) == recorded, "injected LoRA factors differ from PEFT's")
        for p in parameters { p.load(pytorchValues: try fx.floats("init.\(p.qualifiedName)")) }
    }

    @Test func loraOnUNetAttentionMatchesPEFT() throws {
        let fx = try TrainingFixture("lora_unet")
        let (unet, text, schedule) = try fx.models()
        let params = LoRAInjection.inject(into: unet, LoRAOptions(rank: 4, alpha: 8, targets: [.attention]))
        try loadInitialValues(fx, params)
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                       optimizer: fx.optimizerOptions(), loss: fx.lossOptions())
        try replay(fx, trainer)
        #expect(trainer.step == 2)
    }

    /// Attention, feed-forward and resnet-conv LoRA on the UNet, attention and MLP LoRA on the
    /// text encoder; noise offset, min-SNR (ε) and two accumulated micro-batches.
    @Test func loraOnUNetAndTextEncoderMatchesPEFT() throws {
        let fx = try TrainingFixture("lora_unet_text")
        let (unet, text, schedule) = try fx.models()
        let params = LoRAInjection.inject(into: unet, LoRAOptions(rank: 2, alpha: 4, targets: [.attention, .feedForward, .resnetConvs]))
            + LoRAInjection.inject(into: text, LoRAOptions(rank: 2, alpha: 2, targets: [.textAttention, .textMLP]))
        try loadInitialValues(fx, params)
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                       optimizer: fx.optimizerOptions(), loss: fx.lossOptions())
        try replay(fx, trainer)
    }

    @Test func dreamBoothFullFineTuneWithPriorPreservationMatchesDiffusers() throws {
        let fx = try TrainingFixture("dreambooth_prior")
        let (unet, text, schedule) = try fx.models()
        let params = try FullFineTune.parameters(of: unet)
        #expect(params.count == unet.parameters.count)
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                       optimizer: fx.optimizerOptions(), loss: fx.lossOptions())
        try replay(fx, trainer)
    }

    @Test func dreamBoothTrainingTheTextEncoderMatchesDiffusers() throws {
        let fx = try TrainingFixture("dreambooth_text_encoder")
        let (unet, text, schedule) = try fx.models()
        let params = try FullFineTune.parameters(of: unet) + FullFineTune.parameters(of: text)
        #expect(params.contains { $0.qualifiedName == "text_encoder.encoder.layers.0.self_attn.q_proj.weight" })
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                       optimizer: fx.optimizerOptions(), loss: fx.lossOptions())
        try replay(fx, trainer)
    }

    @Test func textualInversionMatchesDiffusers() throws {
        let fx = try TrainingFixture("textual_inversion")
        let (unet, text, schedule) = try fx.models()
        let vocabulary = text.tokenEmbedding.scalars
        let (param, ids) = TextualInversion.addPlaceholderVectors(to: text, count: fx.int("numVectors")!,
                                                                  initializerTokenID: fx.int("initializerID")!)
        #expect(ids == [1000, 1001])
        expectClose(param.tensor.scalars, try fx.floats("init.appended"), rtol: 0, atol: 0, "rows initialised from the initializer token")
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: [param],
                                       optimizer: fx.optimizerOptions(), loss: fx.lossOptions())
        try replay(fx, trainer) { _ in "appended" }
        #expect(text.tokenEmbedding.grad == nil)
        #expect(text.tokenEmbedding.scalars == vocabulary, "the vocabulary rows changed")
    }

    @Test func vPredictionWithMinSNRMatchesDiffusers() throws {
        let fx = try TrainingFixture("vprediction_minsnr")
        #expect(fx.config["predictionType"] as? String == "v_prediction")
        let (unet, text, schedule) = try fx.models()
        #expect(schedule.config.predictionType == .vPrediction)
        let params = LoRAInjection.inject(into: unet, LoRAOptions(rank: 4, alpha: 4, targets: [.attention]))
        try loadInitialValues(fx, params)
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                       optimizer: fx.optimizerOptions(), loss: fx.lossOptions())
        try replay(fx, trainer)
    }
}
