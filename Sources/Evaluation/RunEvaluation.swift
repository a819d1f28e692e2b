// The scores of one run: evaluation.json in the run folder, and the report's "Scores".

import Foundation

public struct RunEvaluation: Codable, Sendable, Equatable {
    public static let fileName = "evaluation.json"
    /// Beside it when the run could not be scored: the reason, one paragraph.
    public static let missingFileName = "evaluation-missing.txt"

    /// "world" or "clip".
    public var measure: String
    /// What the two fidelity scores are called in this measure (e.g. "CLIP-I", "CLIP-T").
    public var subjectFidelityName: String
    public var promptFidelityName: String
    /// Photos trained on that the samples are compared with.
    public var trainingImages: Int
    public var trained: Scores
    /// nil when the run drew no base-model samples (`samples.compare_base: false`).
    public var base: Scores?
    /// Caveats in words (a score left out and why).
    public var notes: [String]

    public struct Scores: Codable, Sendable, Equatable {
        /// Samples scored.
        public var images: Int
        /// Mean cosine similarity of the samples' features to the training photos' (higher: the
        /// samples look more like the subject).
        public var subjectFidelity: Double
        /// Mean prompt fidelity over the samples whose prompt the measure can judge; nil when it
        /// can judge none.
        public var promptFidelity: Double?
        /// KID between the samples' and the training photos' features (lower: closer sets);
        /// nil with fewer than two images in a set.
        public var kid: Double?
        /// The two fidelities per prompt, in the recipe's order: which prompts the model gets right.
        public var prompts: [PromptScores]
        public init(images: Int, subjectFidelity: Double, promptFidelity: Double?, kid: Double?, prompts: [PromptScores] = []) {
            self.images = images; self.subjectFidelity = subjectFidelity; self.promptFidelity = promptFidelity; self.kid = kid
            self.prompts = prompts
        }
    }

    public struct PromptScores: Codable, Sendable, Equatable {
        public var prompt: String
        public var images: Int
        public var subjectFidelity: Double
        public var promptFidelity: Double?
        public init(prompt: String, images: Int, subjectFidelity: Double, promptFidelity: Double?) {
            self.prompt = prompt; self.images = images; self.subjectFidelity = subjectFidelity; self.promptFidelity = promptFidelity
        }
    }

    public init(measure: String, subjectFidelityName: String, promptFidelityName: String, trainingImages: Int,
                trained: Scores, base: Scores?, notes: [String]) {
        self.measure = measure; self.subjectFidelityName = subjectFidelityName; self.promptFidelityName = promptFidelityName
        self.trainingImages = trainingImages; self.trained = trained; self.base = base; self.notes = notes
    }

    /// A few lines for a terminal.
    public var summary: String {
        func number(_ v: Double?) -> String { v.map { String(format: "%.4g", $0) } ?? "–" }
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        var lines = ["measure: \(measure), \(trainingImages) training image(s)",
                     pad("", 42, left: true) + pad("base", 10) + pad("trained", 10)]
        func row(_ name: String, _ b: Double?, _ t: Double?) {
            lines.append(pad(name, 42, left: true) + pad(number(b), 10) + pad(number(t), 10))
        }
        row(subjectFidelityName, base?.subjectFidelity, trained.subjectFidelity)
        row(promptFidelityName, base?.promptFidelity, trained.promptFidelity)
        row("KID vs training images (lower is closer)", base?.kid, trained.kid)
        if trained.prompts.count > 1 {
            lines.append("per prompt (subject fidelity, prompt fidelity; base → trained):")
            for p in trained.prompts {
                let b = base?.prompts.first { $0.prompt == p.prompt }
                lines.append("  \(p.prompt): subject \(number(b?.subjectFidelity)) → \(number(p.subjectFidelity)), "
                             + "prompt \(number(b?.promptFidelity)) → \(number(p.promptFidelity))")
            }
        }
        lines += notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }
}
