import Foundation
import Testing

/// `dropbooth eval` on a run folder that the real binary made with `dropbooth run`: a short
/// LoRA job on a copy of the default model that had no dropbooth.json at the time (so the job
/// could not score it), scored afterwards once the model says how.
@Suite struct EvalCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func dropbooth(_ arguments: [String], in folder: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServiceHarness.executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test func scoresARunFolderAndWritesEvaluationJSON() throws {
        let service = try ServiceHarness()
        let model = service.root + "/models/sd15"
        try FileManager.default.createDirectory(atPath: service.root + "/models", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.repository.appendingPathComponent("models/default").path, toPath: model)
        try? FileManager.default.removeItem(atPath: model + "/dropbooth.json")
        try service.addJob("star", recipe: """
            version: 1
            method: lora
            base_model: sd15
            subject: {instance_prompt: "a yellow star"}
            train: {steps: 2, resolution: 32, batch_size: 2, seed: 1}
            samples: {prompts: ["a large yellow star on a plain purple background"], seeds: [1, 2, 3], steps: 3, sampler: euler, every: 0, size: 32}
            """, samples: false)
        let photos = Self.repository.appendingPathComponent("demo/star").path
        for file in try FileManager.default.contentsOfDirectory(atPath: photos) {
            try FileManager.default.copyItem(atPath: photos + "/" + file, toPath: service.inbox + "/star/" + file)
        }
        let job = try dropbooth(["run", service.inbox + "/star", "--config", service.configPath], in: service.root)
        #expect(job.status == 0, "\(job.stderr)")
        let runs = service.runs(of: "star")
        try #require(runs.count == 1)
        let run = service.outbox + "/star/" + runs[0]
        #expect(service.text("star/\(runs[0])/evaluation-missing.txt").contains("has no dropbooth.json"))

        // Still no dropbooth.json: eval refuses, saying why.
        let refused = try dropbooth(["eval", "--run", run], in: service.root)
        #expect(refused.status == 1 && refused.stderr.contains("has no dropbooth.json"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run + "/evaluation.json"))

        try Data(#"{"evaluation": {"measure": "world"}}"#.utf8).write(to: URL(fileURLWithPath: model + "/dropbooth.json"))
        let scored = try dropbooth(["eval", "--run", run], in: service.root)
        #expect(scored.status == 0, "\(scored.stderr)")
        #expect(scored.stdout.contains("measure: world, 8 training image(s)") && scored.stdout.contains("KID"), "\(scored.stdout)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/evaluation.json"))) as? [String: Any]
        let trained = json?["trained"] as? [String: Any]
        #expect(json?["measure"] as? String == "world")
        #expect(trained?["images"] as? Int == 3 && trained?["kid"] is Double && trained?["subjectFidelity"] is Double)
        #expect(json?["base"] is [String: Any])
        #expect(!FileManager.default.fileExists(atPath: run + "/evaluation-missing.txt"))

        // A folder that is not a run: named.
        let notARun = try dropbooth(["eval", "--run", service.root], in: service.root)
        #expect(notARun.status == 1 && notARun.stderr.contains("samples/samples.json is missing"), "\(notARun.stderr)")
    }

    /// `pretrain export` writes new weights into a model folder without losing how the model is
    /// evaluated: the pretraining folder's dropbooth.json if it has one, else the folder's own,
    /// else the world's measure.
    @Test func pretrainExportKeepsTheModelsEvaluationSettings() throws {
        let root = NSTemporaryDirectory() + "dropbooth-export-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let from = root + "/pretraining", out = root + "/model"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.repository.appendingPathComponent("models/default").path, toPath: from)
        try FileManager.default.removeItem(atPath: from + "/dropbooth.json")
        func export() throws -> String {
            let result = try dropbooth(["pretrain", "export", "--from", from, "--out", out], in: root)
            #expect(result.status == 0, "\(result.stderr)")
            return (try? String(contentsOfFile: out + "/dropbooth.json", encoding: .utf8)) ?? ""
        }
        #expect(try export().contains(#""measure": "world""#))
        let own = #"{"evaluation": {"measure": "clip", "clip_model": "/models/clip"}}"#
        try own.write(toFile: out + "/dropbooth.json", atomically: true, encoding: .utf8)
        #expect(try export() == own)
        let pretraining = #"{"evaluation": {"measure": "world"}, "note": "from pretraining"}"#
        try pretraining.write(toFile: from + "/dropbooth.json", atomically: true, encoding: .utf8)
        #expect(try export() == pretraining)
        #expect(FileManager.default.fileExists(atPath: out + "/unet/diffusion_pytorch_model.safetensors"))
    }
}
