import Foundation
import Testing
import TensorEngine
import Diffusion
@testable import Training

/// A run stopped after a checkpoint and resumed in fresh objects continues exactly: the same
/// next batches, losses and parameters as the run that never stopped.
@Suite struct ResumeTests {
    /// A LoRA run on sd1-tiny over five cached examples, batch 2 (epochs of 2.5 batches, so
    /// resuming crosses an epoch boundary), with noise offset and a warmup schedule.
    func makeRun() throws -> (DiffusionTrainer, BatchSampler) {
        let (unet, text, schedule) = try TrainingFixture("lora_unet").models()
        let params = LoRAInjection.inject(into: unet, LoRAOptions(rank: 2, alpha: 4, targets: [.attention, .resnetConvs], seed: 3))
            + LoRAInjection.inject(into: text, LoRAOptions(rank: 2, alpha: 2, targets: [.textAttention], seed: 3))
        var rng = PhiloxRandom(seed: 11)
        let examples = (0..<5).map { i in
            TrainingExample(latents: rng.normal(shape: [1, 8, 8, 4]), tokenIDs: [512, 70 + i, 80, 90 + i, 513, 513])
        }
        let sampler = BatchSampler(examples: examples, batchSize: 2, numTrainTimesteps: schedule.numTrainTimesteps,
                                   drawsOffsetNoise: true, seed: 5)
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                       optimizer: OptimizerOptions(learningRate: 1e-3, schedule: .linear, warmupSteps: 1, totalSteps: 6,
                                                                   maxGradNorm: 1),
                                       loss: LossOptions(minSNRGamma: 5, noiseOffset: 0.05))
        return (trainer, sampler)
    }

    @Test func resumedRunContinuesExactly() throws {
        let (steps, stopAfter) = (4, 2)
        var (trainer, sampler) = try makeRun()
        var losses: [Float] = []
        for _ in 0..<steps { losses.append(trainer.trainStep([sampler.next()]).losses[0].total) }
        let finalValues = trainer.parameters.map { $0.tensor.scalars }

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-resume-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var (first, firstSampler) = try makeRun()
        for _ in 0..<stopAfter { first.trainStep([firstSampler.next()]) }
        try TrainingCheckpoint.write(first, sampler: firstSampler.state, to: path)

        var (resumed, resumedSampler) = try makeRun()
        resumedSampler.restore(try TrainingCheckpoint.restore(resumed, from: path))
        #expect(resumed.step == stopAfter)
        #expect(resumedSampler.state == firstSampler.state)
        var resumedLosses: [Float] = []
        for _ in stopAfter..<steps { resumedLosses.append(resumed.trainStep([resumedSampler.next()]).losses[0].total) }
        #expect(resumedLosses == Array(losses[stopAfter...]), "losses after resume differ")
        #expect(resumed.parameters.map { $0.tensor.scalars } == finalValues, "parameters after resume differ")
        #expect(Set(losses).count == steps, "every step should see a different batch")
    }

    @Test func checkpointOfAnotherRunIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-resume-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (trainer, sampler) = try makeRun()
        try TrainingCheckpoint.write(trainer, sampler: sampler.state, to: path)
        let (unet, text, schedule) = try TrainingFixture("lora_unet").models()
        let other = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule,
                                     parameters: LoRAInjection.inject(into: unet, LoRAOptions(rank: 2, alpha: 4, targets: [.feedForward])),
                                     optimizer: OptimizerOptions(learningRate: 1e-3, totalSteps: 1))
        #expect(throws: TrainingCheckpointError.self) { try TrainingCheckpoint.restore(other, from: path) }
    }
}
