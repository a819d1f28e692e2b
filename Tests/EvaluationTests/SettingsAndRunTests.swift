import Foundation
import Imaging
import Testing
@testable import Evaluation
@testable import World

/// A temporary folder, removed when the value goes away.
final class TemporaryFolder {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "evaluation-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func write(_ text: String, to name: String) throws {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }
}

@Suite struct ModelEvaluationSettingsTests {
    @Test func readsTheMeasure() throws {
        let model = try TemporaryFolder()
        try model.write(#"{"evaluation": {"measure": "world"}}"#, to: "dropbooth.json")
        #expect(try ModelEvaluationSettings.load(modelPath: model.path) == ModelEvaluationSettings(measure: "world"))
        #expect(try MeasureSelection.featureSpace(forModel: model.path).measure == "world")
    }

    @Test func aModelWithoutTheFileIsNotEvaluatedAndSaysWhy() throws {
        let model = try TemporaryFolder()
        #expect(try ModelEvaluationSettings.load(modelPath: model.path) == nil)
        let error = #expect(throws: EvaluationError.self) { try MeasureSelection.featureSpace(forModel: model.path) }
        #expect(error?.description.contains("has no dropbooth.json") == true)
    }

    @Test func readsTheClipModel() throws {
        let model = try TemporaryFolder()
        try model.write(#"{"evaluation": {"measure": "clip", "clip_model": "clip"}}"#, to: "dropbooth.json")
        #expect(try ModelEvaluationSettings.load(modelPath: model.path) == ModelEvaluationSettings(measure: "clip", clipModel: "clip"))
    }

    @Test func badFilesNameTheFileAndField() throws {
        for (text, field) in [(#"{"evaluation": {"measure": "inception"}}"#, "evaluation.measure is \"inception\""),
                              (#"{"evaluation": {}}"#, "evaluation.measure is missing"),
                              (#"{"evaluation": {"measure": "world", "mesure": 1}}"#, "evaluation.mesure is not a known field"),
                              (#"{"eval": {}}"#, "no \"evaluation\" field"),
                              ("{", "not valid JSON")] {
            let error = #expect(throws: EvaluationError.self) { try ModelEvaluationSettings.parse(Data(text.utf8), file: "m/dropbooth.json") }
            #expect(error?.description.hasPrefix("m/dropbooth.json: ") == true)
            #expect(error?.description.contains(field) == true, "\(String(describing: error))")
        }
    }

    @Test func aSingleFileModelHasASidecar() throws {
        let folder = try TemporaryFolder()
        try folder.write("x", to: "sd15.safetensors")
        #expect(ModelEvaluationSettings.path(forModel: folder.path + "/sd15.safetensors") == folder.path + "/sd15.dropbooth.json")
    }
}

@Suite struct RunEvaluatorTests {
    static let renderer = SceneRenderer(size: 32)

    /// A run folder as the training job leaves it: training photos of a yellow star, "trained"
    /// samples that show yellow stars, "base" samples that show yellow circles.
    static func runFolder() throws -> (TemporaryFolder, SampleSet) {
        let run = try TemporaryFolder()
        func save(_ scenes: [Scene], _ folder: String) throws -> [String] {
            try FileManager.default.createDirectory(atPath: run.path + "/" + folder, withIntermediateDirectories: true)
            return try scenes.enumerated().map { i, scene in
                let file = SampleSet.file(folder, i)
                try Data(ImageEncoder.png(renderer.render(scene))).write(to: URL(fileURLWithPath: run.path + "/" + file))
                return file
            }
        }
        let photos = (0..<6).map { SceneSampler.subject(.star, colour: .yellow, seed: 1, index: $0) }
        let trainedScenes = (0..<6).map { SceneSampler.subject(.star, colour: .yellow, seed: 9, index: $0) }
        let baseScenes = trainedScenes.map { s -> Scene in
            var s = s; s.objects[0].shape = .circle; return s
        }
        let training = try save(photos, SampleSet.trainingFolder)
        let trained = try save(trainedScenes, SampleSet.trainedFolder)
        let base = try save(baseScenes, SampleSet.baseFolder)
        // Both draw from the star's captions: the circles do not show what was asked.
        let set = SampleSet(baseModel: "default", baseModelPath: "/models/default", steps: 10, width: 32, height: 32,
                            base: zip(trainedScenes, base).enumerated().map { .init(prompt: $1.0.caption, seed: UInt64($0), file: $1.1) },
                            trained: zip(trainedScenes, trained).enumerated().map { .init(prompt: $1.0.caption, seed: UInt64($0), file: $1.1) },
                            training: zip(photos, training).map { .init(name: "photo.png", caption: $0.caption, file: $1) })
        let encoder = JSONEncoder()
        try run.write(String(decoding: try encoder.encode(set), as: UTF8.self), to: SampleSet.relativePath)
        return (run, set)
    }

    @Test func theTrainedSamplesScoreCloserToTheSubject() throws {
        let (run, _) = try Self.runFolder()
        let evaluation = try RunEvaluator.evaluate(runFolder: run.path, space: WorldFeatureSpace())
        let base = try #require(evaluation.base)
        #expect(evaluation.measure == "world" && evaluation.trainingImages == 6 && evaluation.trained.images == 6)
        #expect(evaluation.trained.subjectFidelity > base.subjectFidelity)
        #expect(try #require(evaluation.trained.promptFidelity) > #require(base.promptFidelity))
        #expect(try #require(evaluation.trained.kid) < #require(base.kid))
        #expect(evaluation.summary.contains("KID"))
        // Per prompt: every sample has its own caption here, so one entry each, and the overall
        // subject fidelity is their mean (equal counts).
        #expect(evaluation.trained.prompts.count == 6 && evaluation.trained.prompts.allSatisfy { $0.images == 1 })
        let perPrompt = evaluation.trained.prompts.map(\.subjectFidelity).reduce(0, +) / 6
        #expect(abs(perPrompt - evaluation.trained.subjectFidelity) < 1e-9)
        #expect(zip(evaluation.trained.prompts, base.prompts).allSatisfy { $0.prompt == $1.prompt && $0.subjectFidelity > $1.subjectFidelity })
    }

    @Test func aMissingImageIsNamed() throws {
        let (run, set) = try Self.runFolder()
        try FileManager.default.removeItem(atPath: run.path + "/" + set.trained[2].file)
        let error = #expect(throws: EvaluationError.self) { try RunEvaluator.evaluate(runFolder: run.path, space: WorldFeatureSpace()) }
        #expect(error?.description.contains("samples/trained/002.png") == true)
    }

    @Test func aRunWithoutKeptSamplesSaysSo() throws {
        let run = try TemporaryFolder()
        let error = #expect(throws: EvaluationError.self) { try RunEvaluator.evaluate(runFolder: run.path, space: WorldFeatureSpace()) }
        #expect(error?.description.contains("samples/samples.json is missing") == true)
    }
}
