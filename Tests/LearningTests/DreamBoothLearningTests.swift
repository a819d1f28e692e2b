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
        var o = Learning.runOptions(.fullFineTune(trainTextEncoder: true), name: "dreambooth", steps: steps, learningRate: 1e-4)
        if priorPreservation { o.loss = LossOptions(priorLossWeight: 1) }
        return o
    }

    @Test
    func dreamBoothTeachesTheStar() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.dreamBoothOptions(steps: 300, priorPreservation: false),
                                  images: Learning.Subject.star.trainingImages { Learning.Subject.star.caption($0, as: Self.dreamBoothSubject) })
        // The class drift is measured here too (and reported), for comparison with prior preservation's.
        let outcome = try Learning.outcome(of: run, rename: { Learning.Subject.star.caption($0, as: Self.dreamBoothSubject) },
                                           classPrompts: Learning.classPrompts())
        // Measured improvement (mean distance of 16 samples to the subject, base − trained), seeds 1, 2, 3:
        //   committed weights (diffusion 11,540 steps, base 3.92): 0.83, 0.88, 0.77
        //   snapshot step-05300 (base 3.76): 0.58, 0.97, 0.65
        //   snapshot step-03600 (base 4.01): 1.01, 0.91, 0.97
        //   snapshot step-02600 (base 3.55): 0.40, 0.18 (seed 3 not run)
        //   snapshot step-01000 (base 3.94): 0.73, 1.20 (seed 3 not run)
        //   earlier interim weights (base 3.43): 0.33 (seed 1)
        // On the committed weights the smallest is half as much again as the minimum.
        #expect(outcome.improvement >= Learning.minimumImprovement, "DreamBooth samples: base \(outcome.base), trained \(outcome.trained)")
    }

    @Test
    func dreamBoothWithPriorPreservationTeachesTheStarAndKeepsTheClass() throws {
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.dreamBoothOptions(steps: 300, priorPreservation: true),
                                  images: Learning.Subject.star.trainingImages { Learning.Subject.star.caption($0, as: Self.dreamBoothSubject) },
                                  classImages: try Learning.classImages(count: 16))
        let outcome = try Learning.outcome(of: run, rename: { Learning.Subject.star.caption($0, as: Self.dreamBoothSubject) },
                                           classPrompts: Learning.classPrompts())
        // Measured improvement, seeds 1, 2, 3:
        //   committed weights (diffusion 11,540 steps, base 3.92): 0.37, 0.35, 0.48
        //   snapshot step-05300 (base 3.76): 0.77, 0.80, 0.85
        //   snapshot step-03600 (base 4.01): 0.90, 0.76, 0.92
        //   snapshot step-02600 (base 3.55): 0.91, 0.55 (seed 3 not run)
        //   snapshot step-01000 (base 3.94): 1.25, 1.09 (seed 3 not run)
        //   earlier interim weights (base 3.43): 0.71 (seed 1)
        // Prior preservation trades some of the subject for the class (the class images pull the
        // model back towards its own drawings, as the DreamBooth paper's PPL ablation shows): on
        // the committed weights it learns the star by less than DreamBooth alone, but by the same
        // sign on every seed. Its own threshold: half the smallest measured, 0.17, rounded up.
        #expect(outcome.improvement >= 0.2, "DreamBooth samples: base \(outcome.base), trained \(outcome.trained)")
        // Class drift (mean paired distance of the plain class's 16 samples after training to the
        // base model's, same prompts and seeds), seeds 1, 2, 3, with prior preservation / without:
        //   committed weights: 0.69, 0.55, 0.72 / 1.65, 1.77, 1.67
        //   snapshot step-05300: 0.79, 0.86, 1.38 / 1.88, 2.38, 1.65
        //   snapshot step-03600: 0.87, 0.91, 0.78 / 1.97, 2.66, 1.99
        //   snapshot step-02600: 1.22, 1.47 / 1.64, 2.07 (seed 3 not run)
        //   snapshot step-01000: 1.11, 0.85 / 2.11, 2.56 (seed 3 not run)
        //   earlier interim weights: 1.20 / 2.28 (seed 1)
        // The threshold: between the largest with prior preservation and the smallest without it
        // on the committed weights (0.72 < 1.2 < 1.65), with room on both sides.
        let drift = try #require(outcome.classDrift)
        #expect(drift <= 1.2, "class samples after training are \(drift) from the base model's")
    }
}
