// Scores a run folder's kept samples (samples/samples.json) in a feature space: subject
// fidelity and KID against the training photos, prompt fidelity against each sample's prompt,
// for the trained model and, when drawn, the base model, so the report can show the change.

import Foundation
import Imaging

public enum RunEvaluator {
    public static func evaluate(runFolder run: String, space: any FeatureSpace) throws -> RunEvaluation {
        let set = try SampleSet.load(runFolder: run)
        guard !set.trained.isEmpty else { throw EvaluationError("\(SampleSet.relativePath) lists no trained samples") }
        guard !set.training.isEmpty else { throw EvaluationError("\(SampleSet.relativePath) lists no training images to compare with") }
        let training = try space.imageFeatures(SampleSet.images(set.training.map(\.file), runFolder: run))
        var notes: [String] = []
        func scores(_ samples: [SampleSet.Sample], _ label: String) throws -> RunEvaluation.Scores {
            let images = try SampleSet.images(samples.map(\.file), runFolder: run)
            let features = try space.imageFeatures(images)
            let prompts = try space.promptFidelity(images, prompts: samples.map(\.prompt))
            let judged = prompts.compactMap { $0 }
            if judged.count < prompts.count {
                notes.append("\(label): \(space.promptFidelityName) leaves out \(prompts.count - judged.count) of \(prompts.count) samples whose prompts name nothing the \(space.measure) measure knows")
            }
            var kid: Double?
            if images.count >= 2 && training.count >= 2 {
                kid = try KernelInceptionDistance.compute(features, training)
            } else {
                notes.append("\(label): no KID (it needs at least two samples and two training images; there are \(images.count) and \(training.count))")
            }
            return RunEvaluation.Scores(images: images.count, subjectFidelity: Similarity.meanCosine(features, training)!,
                                        promptFidelity: judged.isEmpty ? nil : judged.reduce(0, +) / Double(judged.count), kid: kid)
        }
        let trained = try scores(set.trained, "trained")
        let base = try set.base.isEmpty ? nil : scores(set.base, "base")
        if training.count + set.trained.count < 50 {
            notes.append("KID on \(set.trained.count) samples and \(training.count) training images is a rough figure: it varies a lot between small sets")
        }
        return RunEvaluation(measure: space.measure, subjectFidelityName: space.subjectFidelityName,
                             promptFidelityName: space.promptFidelityName, trainingImages: training.count,
                             trained: trained, base: base, notes: notes)
    }
}
