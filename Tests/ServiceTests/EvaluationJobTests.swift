import Evaluation
import Diffusion
import Foundation
import Logging
import Testing
@testable import Service

/// Jobs through the standard phases (validate, preflight, training, evaluation, report) on the
/// default model (32 px, so a few steps take seconds in a debug build), with the demo's star
/// photos: the final samples are kept as files, scored with the model's measure, and shown in
/// the report; a model that says nothing about evaluation gets a report that says why.
@Suite(.serialized) struct EvaluationJobTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let defaultModel = repository.appendingPathComponent("models/default").path
    static let starPhotos = repository.appendingPathComponent("demo/star").path

    let dirs = (inbox: TemporaryDirectory(), outbox: TemporaryDirectory(), state: TemporaryDirectory(), models: TemporaryDirectory())

    static let recipe = """
        version: 1
        method: lora
        base_model: world
        subject: {instance_prompt: "a yellow star"}
        train: {steps: 2, resolution: 32, batch_size: 2, learning_rate: 1.0e-3, seed: 1}
        samples:
          prompts: ["a large yellow star on a plain purple background", "a medium yellow star on a striped red background"]
          seeds: [1, 2]
          steps: 3
          sampler: dpmpp_2m
          guidance: 4
          every: 0
          size: 32
        """

    /// The default model copied, with `settings` as its dropbooth.json (nil: none).
    func model(settings: String?) throws -> String {
        let folder = dirs.models.path + "/default-" + UUID().uuidString.prefix(6)
        try FileManager.default.copyItem(atPath: Self.defaultModel, toPath: folder)
        try? FileManager.default.removeItem(atPath: folder + "/" + ModelEvaluationSettings.fileName)
        if let settings { try Data(settings.utf8).write(to: URL(fileURLWithPath: folder + "/" + ModelEvaluationSettings.fileName)) }
        return folder
    }

    func run(job: String, recipe: String = EvaluationJobTests.recipe, model: String) throws -> (JobRunner.Outcome, String) {
        dirs.inbox.write("\(job)/recipe.yaml", recipe)
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.starPhotos) {
            try FileManager.default.copyItem(atPath: Self.starPhotos + "/" + file, toPath: dirs.inbox.path + "/\(job)/" + file)
        }
        let config = ServiceConfig(inbox: dirs.inbox.path, outbox: dirs.outbox.path, stateDirectory: dirs.state.path,
                                   models: ["world": model])
        let runner = JobRunner(config: config, job: job, runId: "r1", jobDirectory: dirs.inbox.path + "/" + job,
                               phases: StandardPipeline.phases(), logger: Logger(label: "test"))
        return (try runner.run(), dirs.outbox.path + "/\(job)/r1")
    }

    func report(_ run: String) throws -> RunReport {
        try AtomicFile.readJSON(RunReport.self, from: run + "/" + RunReport.jsonFileName)
    }

    @Test func theJobKeepsItsFinalSamplesScoresThemAndReportsTheScores() throws {
        let (outcome, run) = try run(job: "star", model: try model(settings: #"{"evaluation": {"measure": "world"}}"#))
        #expect(outcome == .succeeded)
        // Kept: 2 prompts × 2 seeds for each model, the 8 photos, and the list of them.
        let set = try SampleSet.load(runFolder: run)
        #expect(set.trained.map(\.file) == (0..<4).map { SampleSet.file(SampleSet.trainedFolder, $0) })
        #expect(set.base.map(\.file) == (0..<4).map { SampleSet.file(SampleSet.baseFolder, $0) })
        #expect(set.trained.map(\.seed) == [1, 2, 1, 2])
        #expect(set.trained.map(\.prompt) == ["a large yellow star on a plain purple background", "a large yellow star on a plain purple background",
                                              "a medium yellow star on a striped red background", "a medium yellow star on a striped red background"])
        #expect(set.training.count == 8 && set.training.allSatisfy { $0.caption.contains("yellow star") })
        #expect(set.width == 32 && set.height == 32 && set.steps == 2)
        for file in set.trained.map(\.file) + set.base.map(\.file) + set.training.map(\.file) {
            #expect(FileManager.default.fileExists(atPath: run + "/" + file), "\(file) missing")
        }
        let images = try SampleSet.images(set.training.map(\.file), runFolder: run)
        #expect(images.allSatisfy { $0.width == 32 && $0.height == 32 })

        // Scored, and the report carries the same scores.
        let evaluation = try AtomicFile.readJSON(RunEvaluation.self, from: run + "/" + RunEvaluation.fileName)
        #expect(evaluation.measure == "world" && evaluation.trainingImages == 8 && evaluation.trained.images == 4)
        #expect(evaluation.base?.images == 4)
        #expect(evaluation.trained.kid != nil && evaluation.trained.promptFidelity != nil)
        #expect((-1...1).contains(evaluation.trained.subjectFidelity))
        #expect(evaluation.trained.prompts.map(\.prompt) == ["a large yellow star on a plain purple background", "a medium yellow star on a striped red background"])
        #expect(evaluation.trained.prompts.allSatisfy { $0.images == 2 } && evaluation.base?.prompts.count == 2)
        let report = try report(run)
        #expect(report.evaluation == evaluation && report.evaluationMissing == nil)
        let html = try String(contentsOfFile: run + "/" + RunReport.htmlFileName, encoding: .utf8)
        #expect(html.contains("<h2>Scores</h2>") && html.contains(evaluation.subjectFidelityName) && html.contains("KID vs training photos"))
        #expect(html.contains(String(format: "%.4g", evaluation.trained.subjectFidelity)))   // as ReportHTML prints scores
        #expect(html.contains("<h3>Per prompt</h3>") && html.contains("<td>a medium yellow star on a striped red background</td>"))
        #expect(!FileManager.default.fileExists(atPath: run + "/" + RunEvaluation.missingFileName))
    }

    @Test(arguments: [
        (nil, "has no dropbooth.json"),
        (#"{"evaluation": {"measure": "clip"}}"#, "evaluation.clip_model is missing"),
        (#"{"evaluation": {"measure": "clip", "clip_model": "no-such-clip"}}"#, "evaluation.clip_model \"no-such-clip\""),
        (#"{"evaluation": {"measure": "fid"}}"#, "evaluation.measure is \"fid\""),
    ] as [(String?, String)])
    func aModelThatCannotBeScoredGetsTheReasonInTheReport(settings: String?, reason: String) throws {
        let (outcome, run) = try run(job: "unscored", model: try model(settings: settings))
        #expect(outcome == .succeeded)
        #expect(!FileManager.default.fileExists(atPath: run + "/" + RunEvaluation.fileName))
        let report = try report(run)
        #expect(report.evaluation == nil)
        #expect(report.evaluationMissing?.contains(reason) == true, "\(String(describing: report.evaluationMissing))")
        // The samples are kept all the same, for `dropbooth eval` once the model says how.
        #expect(FileManager.default.fileExists(atPath: run + "/" + SampleSet.relativePath))
        let html = try String(contentsOfFile: run + "/" + RunReport.htmlFileName, encoding: .utf8)
        #expect(html.contains("<h2>Scores</h2>") && html.contains("Not scored: "))
    }

    /// The tiny CLIPModel of Tests/Fixtures/clip-scoring.
    static let clipModel = repository.appendingPathComponent("Tests/Fixtures/clip-scoring/model")

    /// A model whose dropbooth.json names a CLIP model: the run is scored in CLIP-I and CLIP-T,
    /// the same figures as computed here from the kept images with the CLIP model directly, and
    /// CLIP-T reads the prompts with the subject's token replaced by its class noun.
    @Test func aClipConfiguredModelIsScoredInCLIPIAndCLIPT() throws {
        let recipe = Self.recipe.replacingOccurrences(of: #"subject: {instance_prompt: "a yellow star"}"#,
                                                      with: #"subject: {token: sks, class: star, instance_prompt: "a yellow {token} {class}"}"#)
            .replacingOccurrences(of: "a large yellow star", with: "a large yellow sks star")
        let settings = #"{"evaluation": {"measure": "clip", "clip_model": "\#(Self.clipModel.path)"}}"#
        let (outcome, run) = try run(job: "clip", recipe: recipe, model: try model(settings: settings))
        #expect(outcome == .succeeded)
        let set = try SampleSet.load(runFolder: run)
        #expect(set.subjectWords == [SubjectWord(token: "sks", standIn: "star")])
        let evaluation = try AtomicFile.readJSON(RunEvaluation.self, from: run + "/" + RunEvaluation.fileName)
        #expect(evaluation.measure == "clip" && evaluation.subjectFidelityName == "CLIP-I" && evaluation.promptFidelityName == "CLIP-T")
        #expect(evaluation.trainingImages == 8 && evaluation.trained.images == 4 && evaluation.base?.images == 4)

        let clip = try CLIPScoringModel(folder: Self.clipModel)
        func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        let training = try clip.imageEmbeddings(SampleSet.images(set.training.map(\.file), runFolder: run))
        let trained = try clip.imageEmbeddings(SampleSet.images(set.trained.map(\.file), runFolder: run))
        let clipI = trained.flatMap { t in training.map { dot(t, $0) } }.reduce(0, +) / Double(trained.count * training.count)
        #expect(abs(evaluation.trained.subjectFidelity - clipI) < 1e-6, "\(evaluation.trained.subjectFidelity) vs \(clipI)")
        // Samples 0, 1: "a large yellow sks star on …", read as "a large yellow star on …"; 2, 3 have no token.
        let texts = try clip.textEmbeddings(["a large yellow star on a plain purple background",
                                             "a medium yellow star on a striped red background"])
        let clipT = (0..<4).map { dot(trained[$0], texts[$0 / 2]) }.reduce(0, +) / 4
        #expect(abs(try #require(evaluation.trained.promptFidelity) - clipT) < 1e-6)
        #expect(evaluation.trained.kid != nil)
        let html = try String(contentsOfFile: run + "/" + RunReport.htmlFileName, encoding: .utf8)
        #expect(html.contains("CLIP-I") && html.contains("CLIP-T"))
    }

    @Test func aDryRunSaysItIsNotScored() throws {
        let (outcome, run) = try run(job: "dry", recipe: Self.recipe + "\ndry_run: true\n", model: try model(settings: #"{"evaluation": {"measure": "world"}}"#))
        #expect(outcome == .succeeded)
        #expect(try report(run).evaluationMissing?.contains("dry run") == true)
    }
}
