// Scores a run folder's kept samples (samples/samples.json) in a feature space: subject
// fidelity and KID against the training photos, prompt fidelity against each sample's prompt,
// for the trained model and, when drawn, the base model, so the report can show the change.

import Foundation
import Imaging

public enum RunEvaluator {
    static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    public static func evaluate(runFolder run: String, space: any FeatureSpace) throws -> RunEvaluation {
        let set = try SampleSet.load(runFolder: run)
        guard !set.trained.isEmpty else { throw EvaluationError("\(SampleSet.relativePath) lists no trained samples") }
        guard !set.training.isEmpty else { throw EvaluationError("\(SampleSet.relativePath) lists no training images to compare with") }
        let training = try space.imageFeatures(SampleSet.images(set.training.map(\.file), runFolder: run))
        guard training.count == set.training.count else {
            throw EvaluationError("the \(space.measure) measure gave \(training.count) feature vectors for \(set.training.count) training images")
        }
        var notes: [String] = []
        func scores(_ samples: [SampleSet.Sample], _ label: String) throws -> RunEvaluation.Scores {
            let images = try SampleSet.images(samples.map(\.file), runFolder: run)
            let features = try space.imageFeatures(images)
            guard features.count == images.count else {
                throw EvaluationError("the \(space.measure) measure gave \(features.count) feature vectors for \(images.count) images")
            }
            let promptScores = try space.promptFidelity(images, features: features, prompts: samples.map(\.prompt),
                                                        subjects: set.subjectWords ?? [])
            guard promptScores.count == images.count else {
                throw EvaluationError("the \(space.measure) measure gave \(promptScores.count) prompt scores for \(images.count) images")
            }
            let judged = promptScores.compactMap { $0 }
            if judged.count < promptScores.count {
                notes.append("\(label): \(space.promptFidelityName) leaves out \(promptScores.count - judged.count) of \(promptScores.count) samples whose prompts name nothing the \(space.measure) measure knows")
            }
            var kid: Double?
            if images.count >= 2 && training.count >= 2 {
                kid = try KernelInceptionDistance.compute(features, training)
            } else {
                notes.append("\(label): no KID (it needs at least two samples and two training images; there are \(images.count) and \(training.count))")
            }
            var order: [String] = []
            for sample in samples where !order.contains(sample.prompt) { order.append(sample.prompt) }
            let perPrompt = order.map { prompt -> RunEvaluation.PromptScores in
                let indices = samples.indices.filter { samples[$0].prompt == prompt }
                return RunEvaluation.PromptScores(prompt: prompt, images: indices.count,
                                                  subjectFidelity: Similarity.meanCosine(indices.map { features[$0] }, training)!,
                                                  promptFidelity: mean(indices.compactMap { promptScores[$0] }))
            }
            return RunEvaluation.Scores(images: images.count, subjectFidelity: Similarity.meanCosine(features, training)!,
                                        promptFidelity: mean(judged), kid: kid, prompts: perPrompt)
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
