// Textual inversion learns a shape as a new word: one vector for "<thing>", initialised from the
// class noun ("circle"), trained on photos of a yellow triangle captioned with it ("a large
// yellow <thing> on ..."); the model is untouched. Samples for unseen captions of the subject
// move from the initial word's drawing (a circle) to the subject. lr 5e-3 (the tiny model's
// 128-wide embeddings move little at SD's 5e-4), batch 4, 500 steps.
//
// Why a triangle and not the star the other methods learn: textual inversion only finds a word
// for what the frozen model can already draw, and the default model has never drawn a star.
// Taught the star, the vector settles on the drawing that minimises the loss among those the
// model has (a small yellow blob, the mean of a star, sometimes a purple square from the photos'
// backgrounds): from circles (base 3.09) the samples move *away* from the star, improvement
// −0.68, −0.29, −0.39 for seeds 1–3; and the same from other initializers (triangle −1.57,
// square +0.36) and at other rates (lr 5e-4 for 1000 steps −0.35, 2e-3 −1.48 from triangle,
// four vectors −0.17). The same test with the triangle, a shape the model draws but which the
// placeholder does not start as, measures the method rather than the model's range.

import Testing
import Training
import World

extension Learning.Subject {
    /// A yellow triangle: a shape the default model draws.
    static let triangle = Self(shape: .triangle, colour: .yellow)
}

extension LearningTests {
    static let placeholder = "<thing>"

    static func textualInversionOptions(steps: Int) -> TrainingRunOptions {
        Learning.runOptions(.textualInversion([.init(token: Self.placeholder, vectors: 1, initializer: Learning.classShape.word)]),
                            name: "textual_inversion", steps: steps, learningRate: 5e-3)
    }

    @Test
    func textualInversionTeachesATriangle() throws {
        let subject = Learning.Subject.triangle
        let run = try TrainingRun(basePath: Learning.modelPath, options: Self.textualInversionOptions(steps: 500),
                                  images: subject.trainingImages { subject.caption($0, as: Self.placeholder) })
        let outcome = try Learning.outcome(of: run, subject: subject, rename: { subject.caption($0, as: Self.placeholder) })
        // Measured improvement (mean distance of 16 samples to the subject, base − trained), seeds 1, 2, 3:
        //   committed weights (diffusion 11,540 steps, base 3.88): 2.26, 2.31, 2.25
        // Half the smallest, rounded down.
        #expect(outcome.improvement >= 1.1, "textual inversion samples: base \(outcome.base), trained \(outcome.trained)")
    }
}
