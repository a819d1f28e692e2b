import Foundation
import Evaluation

/// Scores the final samples the training phase kept (samples/samples.json) in the base model's
/// feature space (its dropbooth.json): subject fidelity, prompt fidelity and KID against the
/// training photos, for the base and the trained model. Writes evaluation.json, or, when the
/// run cannot be scored (a dry run, no samples, a model without dropbooth.json, a CLIP model
/// that does not load), evaluation-missing.txt with the reason: a scoring problem never fails a job
/// whose training went well. `dropbooth eval` does the same on a finished run folder.
public struct EvaluationPhase: JobPhase {
    public let name = "evaluation"
    public let skipWhenCompleted = true

    public init() {}

    public func run(_ context: JobContext) throws {
        let work = context.workDirectory
        let scoresPath = "\(work)/\(RunEvaluation.fileName)", missingPath = "\(work)/\(RunEvaluation.missingFileName)"
        try? FileManager.default.removeItem(atPath: scoresPath)
        try? FileManager.default.removeItem(atPath: missingPath)
        func missing(_ reason: String) throws {
            context.logger.notice("evaluation: not scored: \(reason)")
            try AtomicFile.write(Data((reason + "\n").utf8), to: missingPath)
        }
        if (try? context.plan)?.dryRun == true {
            return try missing("a dry run trains nothing and draws no samples")
        }
        guard FileManager.default.fileExists(atPath: "\(work)/\(SampleSet.relativePath)") else {
            return try missing("the recipe draws no samples (samples.prompts or samples.seeds is empty), so there is nothing to score")
        }
        do {
            let set = try SampleSet.load(runFolder: work)
            let space = try MeasureSelection.featureSpace(forModel: set.baseModelPath)
            let evaluation = try RunEvaluator.evaluate(runFolder: work, space: space)
            try AtomicFile.writeJSON(evaluation, to: scoresPath)
            context.logger.info("evaluation:\n\(evaluation.summary)")
        } catch let error as EvaluationError {
            try missing(error.description)
        } catch is JobStopped {
            throw JobStopped()
        } catch {
            try missing("the samples could not be scored: \(error)")
        }
    }
}
