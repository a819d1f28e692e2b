#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// The real `dropbooth serve` trains a LoRA on sd1-tiny, is killed with SIGKILL mid-training,
/// and on restart resumes from the last training checkpoint and publishes once.
/// DROPBOOTH_TEST_RESOLUTION=16 keeps the debug build's steps short; 120 of them leave room to
/// kill mid-training on a fast machine (with 40, one finished before the kill landed).
@Suite struct TrainingKillIntegrationTests {
    static let sd1Tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models/sd1-tiny").path

    static let steps = 120

    @Test func killedTrainingResumesFromItsCheckpointAndPublishesOnce() throws {
        let service = try ServiceHarness()
        // The harness's registry maps sd15 to models/sd15 under its root.
        try FileManager.default.createDirectory(atPath: service.root + "/models", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sd1Tiny, toPath: service.root + "/models/sd15")
        try service.addJob("train", recipe: """
            version: 1
            method: lora
            base_model: sd15
            subject: {token: sks, class: toy}
            train: {steps: \(Self.steps), resolution: 64, checkpoint_every: 5, seed: 3}
            samples: {prompts: ["a photo of {token} {class}"], seeds: [1], steps: 2, sampler: euler, guidance: 1, every: 0, size: 64, compare_base: false}
            """)
        let environment = ["DROPBOOTH_TEST_RESOLUTION": "16"]
        let first = try service.startServe(once: false, environment: environment)
        let midTraining = service.eventually(timeout: 240) {
            let status = service.status(of: "train")
            // status.json shows the step, the loss and an ETA while training.
            return status["phase"] as? String == "training" && (status["step"] as? Int ?? 0) >= 12
                && status["loss"] is Double && status["eta"] != nil && status["total"] as? Int == Self.steps
        }
        #expect(midTraining, "training never got going: \(service.serveLogs)")
        // The whole service at once, job process included, as systemd kills its cgroup.
        let children = ServiceHarness.children(of: first.processIdentifier)
        kill(first.processIdentifier, SIGKILL)
        for child in children { kill(child, SIGKILL) }
        first.waitUntilExit()
        #expect(service.status(of: "train")["state"] as? String != "succeeded")

        let second = try service.startServe(once: true, environment: environment)
        #expect(service.wait(second, timeout: 240) == 0, "restarted serve did not finish: \(service.serveLogs)")

        let runs = service.runs(of: "train")
        #expect(runs.count == 1)
        let run = "train/\(runs.first ?? "?")"
        #expect(service.status(of: "train")["state"] as? String == "succeeded")
        let log = service.text(run + "/log.txt")
        // Resumed from a checkpoint taken after the step the kill waited for, before the last.
        let resumedAt = log.firstMatch(of: /training: resuming at step (\d+) of/).flatMap { Int($0.1) }
        #expect(resumedAt.map { $0 >= 10 && $0 < Self.steps && $0 % 5 == 0 } == true, "resumed at \(resumedAt.map(String.init) ?? "no step"): \(log)")
        #expect(log.components(separatedBy: "run finished; publishing").count == 2)   // exactly once
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: service.outbox + "/" + run + "/training/summary.json"))) as? [String: Any]
        let steps = (summary?["losses"] as? [[String: Any]] ?? []).compactMap { $0["step"] as? Int }
        #expect(steps == Array(1...Self.steps), "the loss curve should have every step once")
        for file in ["pytorch_lora_weights.safetensors", "lora_kohya.safetensors", "samples/final.jpg"] {
            #expect(FileManager.default.fileExists(atPath: service.outbox + "/" + run + "/" + file), "\(file) missing")
        }
    }
}
