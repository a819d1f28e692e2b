// Textual inversion learns the star as a new word: one vector for "<star>", initialised from the
// class noun ("circle"), trained on the photos captioned with it ("a large yellow <star> on
// ..."); the model is untouched. Samples for unseen captions of the subject move from the
// initial word's drawing (a circle) closer to the subject. lr 5e-3 (the tiny model's 128-wide
// embeddings move little at SD's 5e-4), batch 4, 500 steps.

import Testing
import Training
import World

extension LearningTests {
    static let placeholder = "<star>"

    static func textualInversionOptions(steps: Int) -> TrainingRunOptions {
        Learning.runOptions(.textualInversion([.init(token: Self.placeholder, vectors: 1, initializer: Learning.classShape.word)]),
                            name: "textual_inversion", steps: steps, learningRate: 5e-3)
    }

    @Test(.notLearning("""
        textual inversion does not learn the star with the committed weights (diffusion 11,540 steps): \
        the samples move away from it, improvement −0.68, −0.29, −0.39 for seeds 1–3 (base 3.09), and at \
        lr 1e-3 or 2e-2 too (seed 1: −0.32, −0.36). It did with earlier snapshots: step-03600 0.84, 0.86, 0.95
        """))
    func textualInversionTeachesTheStar() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.textualInversionOptions(steps: 500),
                                  images: Learning.trainingImages { Learning.caption($0, subjectAs: Self.placeholder) })
        let outcome = try Learning.outcome(of: run, rename: { Learning.caption($0, subjectAs: Self.placeholder) })
        // Measured improvement (mean distance of 16 samples to the subject, base − trained), seeds 1, 2, 3:
        //   committed weights (diffusion 11,540 steps, base 3.09): −0.68, −0.29, −0.39
        //   snapshot step-05300 (base 3.61): 0.66, 0.35, 0.76 (seed 2 below the minimum)
        //   snapshot step-03600 (base 4.09): 0.84, 0.86, 0.95
        //   snapshot step-02600 (base 3.36): 1.06, 0.86 (seed 3 not run)
        //   snapshot step-01000 (base 3.78): 1.02, 1.01 (seed 3 not run)
        //   earlier interim weights (base 3.52): 0.39 (seed 1)
        // Half the smallest is below the minimum: the minimum.
        #expect(outcome.improvement >= Learning.minimumImprovement,
                "textual inversion samples: base \(outcome.base), trained \(outcome.trained)")
    }
}
