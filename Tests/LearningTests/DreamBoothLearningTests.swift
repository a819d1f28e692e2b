// DreamBooth learns the star as "sks circle": the whole UNet and the text encoder fine-tuned on
// the photos, captioned with the subject's word replaced by the identifier and the class noun
// ("a large yellow sks circle on ..."). Without prior preservation and with it (the base
// model's own samples of the plain class as class images, weight 1), samples for unseen
// captions of the subject are closer to it than the base model's; with it, samples of the plain
// class ("a large yellow circle on ...") stay close to the base model's.

import Testing
import Training
import World

extension LearningTests {
    static let dreamBoothSubject = "sks \(Learning.classShape.word)"

    static func dreamBoothOptions(steps: Int, priorPreservation: Bool) -> TrainingRunOptions {
        var o = TrainingRunOptions(method: .fullFineTune(trainTextEncoder: true), methodName: "dreambooth",
                                   resolution: Learning.resolution, steps: steps,
                                   optimizer: OptimizerOptions(learningRate: 1e-4, totalSteps: steps, maxGradNorm: 1))
        o.batchSize = 4
        o.randomFlip = true
        o.seed = Learning.runSeed
        if priorPreservation { o.loss = LossOptions(priorLossWeight: 1) }
        return o
    }

    @Test(.notLearning(
        "DreamBooth does not learn the star measurably with the committed interim weights (3140 diffusion steps: objects are soft blobs): distance to the subject base 3.57 → trained 3.54 (seed 1), improvement 0.03 < 0.5"
    ))
    func dreamBoothTeachesTheStar() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.dreamBoothOptions(steps: 300, priorPreservation: false),
                                  images: Learning.trainingImages { Learning.caption($0, subjectAs: Self.dreamBoothSubject) })
        // The class drift is measured here too, for comparison with prior preservation's.
        let outcome = try Learning.outcome(of: run, rename: { Learning.caption($0, subjectAs: Self.dreamBoothSubject) },
                                           classPrompts: Learning.classPrompts())
        #expect(outcome.improvement >= 0.5, "DreamBooth samples: base \(outcome.base), trained \(outcome.trained)")
    }

    @Test(.notLearning(
        "DreamBooth with prior preservation does not learn the star measurably with the committed interim weights (3140 diffusion steps: objects are soft blobs): distance to the subject base 3.57 → trained 3.09 (seed 1), improvement 0.48 < 0.5; class drift 1.10 (1.94 without prior preservation)"
    ))
    func dreamBoothWithPriorPreservationTeachesTheStarAndKeepsTheClass() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.dreamBoothOptions(steps: 300, priorPreservation: true),
                                  images: Learning.trainingImages { Learning.caption($0, subjectAs: Self.dreamBoothSubject) },
                                  classImages: try Learning.classImages(count: 16))
        let outcome = try Learning.outcome(of: run, rename: { Learning.caption($0, subjectAs: Self.dreamBoothSubject) },
                                           classPrompts: Learning.classPrompts())
        #expect(outcome.improvement >= 0.5, "DreamBooth samples: base \(outcome.base), trained \(outcome.trained)")
        let drift = try #require(outcome.classDrift)
        #expect(drift <= 1.0, "class samples after training are \(drift) from the base model's")
    }
}
