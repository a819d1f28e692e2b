// Textual inversion learns the star as a new word: one vector for "<star>", initialised from the
// class noun ("circle"), trained on the photos captioned with it ("a large yellow <star> on
// ..."); the model is untouched. Samples for unseen captions of the subject move from the
// initial word's drawing (a circle) closer to the subject.

import Testing
import Training
import World

extension LearningTests {
    static let placeholder = "<star>"

    static func textualInversionOptions(steps: Int) -> TrainingRunOptions {
        var o = TrainingRunOptions(method: .textualInversion([.init(token: Self.placeholder, vectors: 1, initializer: Learning.classShape.word)]),
                                   methodName: "textual_inversion", resolution: Learning.resolution, steps: steps,
                                   optimizer: OptimizerOptions(learningRate: 5e-3, totalSteps: steps, maxGradNorm: 1))
        o.batchSize = 4
        o.randomFlip = true
        o.seed = Learning.runSeed
        return o
    }

    @Test(.notLearning(
        "textual inversion does not learn the star measurably with the committed interim weights (3140 diffusion steps: objects are soft blobs): distance to the subject base 3.86 → trained 3.62 (seed 1), improvement 0.24 < 0.5"
    ))
    func textualInversionTeachesTheStar() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.textualInversionOptions(steps: 500),
                                  images: Learning.trainingImages { Learning.caption($0, subjectAs: Self.placeholder) })
        let outcome = try Learning.outcome(of: run, rename: { Learning.caption($0, subjectAs: Self.placeholder) })
        #expect(outcome.improvement >= 0.5, "textual inversion samples: base \(outcome.base), trained \(outcome.trained)")
    }
}
