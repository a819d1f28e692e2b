import ArgumentParser
import Evaluation
import Foundation
import Service

/// `dropbooth eval --run FOLDER`: scores a run's kept final samples (samples/samples.json)
/// the way the job's evaluation phase does, prints the scores and writes evaluation.json into
/// the run folder. For runs scored with an older measure, or whose base model got its
/// dropbooth.json after the run.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a run's final samples: subject fidelity, prompt fidelity and KID against the training photos.",
        discussion: """
            The measure comes from the base model's dropbooth.json ({"evaluation": {"measure": "world"}}, or \
            {"evaluation": {"measure": "clip", "clip_model": "FOLDER"}} with a transformers CLIPModel folder: CLIP-I and CLIP-T); \
            the base model is the one the run used (recorded in samples/samples.json) unless --model names another. \
            Exit status: 0 scored, 1 the run cannot be scored (the reason is printed), 64 bad arguments.
            """
    )

    @Option(name: .customLong("run"), help: "The run folder: outbox/<job>/<run>, or outbox/.staging/<job>/<run> for one not yet published.")
    var runFolder: String

    @Option(name: .long, help: "The base model folder (or single file) whose dropbooth.json selects the measure.")
    var model: String?

    @Flag(name: .long, help: "Print evaluation.json instead of the table.")
    var json = false

    func run() throws {
        let folder = URL(fileURLWithPath: runFolder).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--run: \(runFolder) is not a folder")
        }
        let evaluation: RunEvaluation
        do {
            let modelPath = try model ?? SampleSet.load(runFolder: folder).baseModelPath
            evaluation = try RunEvaluator.evaluate(runFolder: folder, space: MeasureSelection.featureSpace(forModel: modelPath))
        } catch let error as EvaluationError {
            FileHandle.standardError.write(Data("dropbooth eval: \(folder) cannot be scored: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
        let path = (folder as NSString).appendingPathComponent(RunEvaluation.fileName)
        try AtomicFile.writeJSON(evaluation, to: path)
        try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(RunEvaluation.missingFileName))
        if json {
            print(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self))
        } else {
            print(evaluation.summary)
            print("wrote \(path)")
        }
    }
}
