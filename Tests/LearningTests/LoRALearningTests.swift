// LoRA learns the star: after training on the photos with their own captions ("a large yellow
// star on ..."), samples for unseen captions of the subject are closer to it than the base
// model's samples for the same prompts and seeds. Settings as the demo's recipe: rank 8 on the
// UNet's attention and feed-forward layers, lr 1e-3, batch 4, 600 steps.

import Testing
import Training
import World

extension LearningTests {
    static func loraOptions(steps: Int) -> TrainingRunOptions {
        Learning.runOptions(.lora(LoRAOptions(rank: 8, alpha: 8, targets: [.attention, .feedForward], seed: Learning.runSeed)),
                            name: "lora", steps: steps, learningRate: 1e-3)
    }

    @Test
    func loraTeachesTheStar() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.loraOptions(steps: 600), images: Learning.Subject.star.trainingImages())
        let outcome = try Learning.outcome(of: run, rename: { $0 })
        // Measured improvement (mean distance of 16 samples to the subject, base − trained), seeds 1, 2, 3:
        //   committed weights (diffusion 11,540 steps, base 4.05): 1.01, 0.96, 1.10
        //   snapshot step-05300 (base 3.61): 0.49, 0.30, 0.34
        //   snapshot step-03600 (base 3.79): 0.48, 0.83, 0.56
        //   snapshot step-02600 (base 3.16): 0.27, 0.14 (seed 3 not run)
        //   snapshot step-01000 (base 3.60): 0.65, 0.67 (seed 3 not run)
        //   earlier interim weights (base 3.29): 0.12 (seed 1)
        // On the committed weights the smallest is twice the minimum.
        #expect(outcome.improvement >= Learning.minimumImprovement, "LoRA samples: base \(outcome.base), trained \(outcome.trained)")
    }
}
