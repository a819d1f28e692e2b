// LoRA learns the star: after training on the photos with their own captions ("a large yellow
// star on ..."), samples for unseen captions of the subject are closer to it than the base
// model's samples for the same prompts and seeds.

import Testing
import Training
import World

extension LearningTests {
    static func loraOptions(steps: Int) -> TrainingRunOptions {
        var o = TrainingRunOptions(method: .lora(LoRAOptions(rank: 8, alpha: 8, targets: [.attention, .feedForward], seed: Learning.runSeed)),
                                   methodName: "lora", resolution: Learning.resolution, steps: steps,
                                   optimizer: OptimizerOptions(learningRate: 1e-3, totalSteps: steps, maxGradNorm: 1))
        o.batchSize = 4
        o.randomFlip = true
        o.seed = Learning.runSeed
        return o
    }

    @Test(.notLearning(
        "LoRA does not learn the star measurably with the committed interim weights (3140 diffusion steps: objects are soft blobs): distance to the subject base 3.65 → trained 3.37 (seed 1), improvement 0.28 < 0.5"
    ))
    func loraTeachesTheStar() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.loraOptions(steps: 600), images: Learning.trainingImages())
        let outcome = try Learning.outcome(of: run, rename: { $0 })
        #expect(outcome.improvement >= 0.5, "LoRA samples: base \(outcome.base), trained \(outcome.trained)")
    }
}
