import Foundation
import Imaging
import Logging
import ModelIO
import Synchronization
import Testing
@testable import Service

/// Jobs that really train, through JobRunner with the standard phases (validate, preflight,
/// training), on sd1-tiny. Recipes must say 64 px; the plan is shrunk to 16 px after
/// validation (8x8 latents) because the debug build's kernels make 64 px steps take minutes.
@Suite(.serialized) struct TrainingJobTests {
    static let sd1Tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models/sd1-tiny").path
    let dirs = (inbox: TemporaryDirectory(), outbox: TemporaryDirectory(), state: TemporaryDirectory())

    /// Call counter for shouldStop: stops from the `after`-th question on.
    final class StopAfter: Sendable {
        let calls = Atomic<Int>(0)
        let after: Int
        init(after: Int) { self.after = after }
        func ask() -> Bool { calls.add(1, ordering: .relaxed).newValue >= after }
    }

    static func shrunk(_ path: String, _ config: ServiceConfig) throws -> JobPlan {
        var plan = try StandardPipeline.plan(recipePath: path, config: config)
        plan.resolution = 16
        plan.recipe?.train.resolution = 16
        plan.recipe?.samples.width = 16
        plan.recipe?.samples.height = 16
        return plan
    }

    func writeImages(_ folder: String, count: Int, seed: Int = 0) throws {
        for k in 0..<count {
            var pixels: [UInt8] = []
            for y in 0..<16 { for x in 0..<20 { pixels += [UInt8((x * 12 + (k + seed) * 40) % 256), UInt8((y * 16) % 256), UInt8((x + y + k * 90) % 256)] } }
            let png = try ImageEncoder.png(RGBImage(width: 20, height: 16, pixels: pixels))
            let path = dirs.inbox.path + "/" + folder + "/img\(k).png"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(png).write(to: URL(fileURLWithPath: path))
        }
    }

    func run(job: String, recipe: String, images: Int = 2, stop: StopAfter? = nil,
             training: any JobPhase = TrainingPhase()) throws -> JobRunner.Outcome {
        dirs.inbox.write("\(job)/recipe.yaml", recipe)
        if images > 0, !dirs.inbox.exists("\(job)/img0.png") { try writeImages(job, count: images) }
        let config = ServiceConfig(inbox: dirs.inbox.path, outbox: dirs.outbox.path, stateDirectory: dirs.state.path,
                                   models: ["tiny": Self.sd1Tiny])
        let phases: [any JobPhase] = [ValidateRecipePhase(validate: Self.shrunk), PreflightPhase(), training]
        var runner = JobRunner(config: config, job: job, runId: "r1", jobDirectory: dirs.inbox.path + "/" + job,
                               phases: phases, logger: Logger(label: "test"))
        runner.shouldStop = { stop?.ask() ?? false }
        return try runner.run()
    }

    func summary(_ job: String, live: Bool = true) throws -> TrainingSummary {
        let base = live ? dirs.outbox.path + "/\(job)/r1" : RunPublisher(outbox: dirs.outbox.path, job: job, run: "r1").stagingDirectory
        return try JSONDecoder().decode(TrainingSummary.self, from: Data(contentsOf: URL(fileURLWithPath: base + "/" + TrainingSummary.relativePath)))
    }

    static func recipe(_ method: String, steps: Int = 3, extra: String = "") -> String {
        """
        version: 1
        method: \(method)
        base_model: tiny
        train: {steps: \(steps), resolution: 64, checkpoint_every: 1, seed: 5}
        samples: {prompts: ["a photo of {token}"], seeds: [1], steps: 2, sampler: euler, every: 2, size: 64}
        \(extra)
        """
    }

    @Test func loraJobTrainsSamplesAndPublishesBothConventions() throws {
        let outcome = try run(job: "style", recipe: """
            version: 1
            method: lora
            base_model: tiny
            subject: {token: sks}
            train: {steps: 3, resolution: 64, checkpoint_every: 1, seed: 5, random_flip: true, noise_offset: 0.05, min_snr_gamma: 5, gradient_accumulation: 2, lr_schedule: linear, warmup_steps: 1}
            samples: {prompts: ["a photo of {token}"], seeds: [1], steps: 2, sampler: euler, every: 2, size: 64, rng: native}
            """)
        #expect(outcome == .succeeded)
        let files = dirs.outbox.list("style/r1")
        #expect(files.contains("pytorch_lora_weights.safetensors") && files.contains("lora_kohya.safetensors"))
        #expect(dirs.outbox.list("style/r1/samples").contains("final.jpg"))
        let s = try summary("style")
        #expect(s.losses.map(\.step) == [1, 2, 3])
        #expect(s.grids.map(\.file) == ["samples/step-000002.jpg", "samples/final.jpg"])
        #expect(s.grids.last?.comparesBase == true)
        #expect(s.outputs.map(\.format) == ["diffusers", "kohya"])
        #expect(s.seconds["train"] != nil && s.seconds["cache"] != nil && s.seconds["export"] != nil)
        #expect(!dirs.state.exists("training/style/r1"), "the training state should go once the results are exported")
        let meta = try SafeTensorsFile(path: dirs.outbox.path + "/style/r1/pytorch_lora_weights.safetensors").metadata
        #expect(DropboothAdapterInfo(metadata: meta)?.method == "lora")
    }

    @Test func stoppedJobResumesWithTheSameLossCurve() throws {
        let recipe = Self.recipe("lora", steps: 4, extra: "subject: {token: sks}")
        #expect(try run(job: "whole", recipe: recipe) == .succeeded)
        let whole = try summary("whole").losses

        // validate, preflight (+ its folder), training, then one question per step: stop before step 3.
        #expect(try run(job: "parts", recipe: recipe, stop: StopAfter(after: 7)) == .stopped)
        let stopped = try summary("parts", live: false)
        #expect(stopped.steps == 2 && stopped.losses.count == 2)
        #expect(try run(job: "parts", recipe: recipe) == .succeeded)
        let resumed = try summary("parts").losses
        #expect(resumed.map(\.step) == [1, 2, 3, 4])
        // To float rounding (the engine's threaded reductions may round differently under load);
        // a wrong resume (other batches, noise or parameters) differs at the first digit.
        for (r, w) in zip(resumed, whole) {
            #expect(abs(r.loss - w.loss) <= 1e-5 * abs(w.loss), "step \(r.step): loss \(r.loss) after resume, \(w.loss) uninterrupted")
        }
    }

    /// The training phase, ended as if the process were killed right after it returned and
    /// before the runner recorded it as done (JobStopped leaves the record as a kill would).
    struct KilledBeforeRecord: JobPhase {
        let name = "training"
        let skipWhenCompleted = true
        func run(_ context: JobContext) throws {
            try TrainingPhase().run(context)
            throw JobStopped()
        }
    }

    @Test func killBetweenFinishedTrainingAndItsRecordDoesNotTrainAgain() throws {
        let recipe = Self.recipe("lora", steps: 3, extra: "subject: {token: sks}")
        #expect(try run(job: "killed", recipe: recipe, training: KilledBeforeRecord()) == .stopped)
        #expect(dirs.state.exists("training/killed/r1/checkpoint.safetensors"),
                "the finished run's state must survive until the phase is recorded as done")
        let before = try summary("killed", live: false)
        #expect(before.steps == 3 && before.losses.count == 3)

        #expect(try run(job: "killed", recipe: recipe) == .succeeded)
        let after = try summary("killed")
        #expect(after.losses == before.losses)
        // No step was trained again: the train time is the first process's, unchanged.
        #expect(after.seconds["train"] == before.seconds["train"])
        #expect(!dirs.state.exists("training/killed/r1"), "the state goes once the phase is recorded as done")
    }

    /// train.buckets through the whole job: a landscape and a portrait photo train at their
    /// own sizes (the recipe's 64 px is shrunk to 16 after validation, as in every test here).
    @Test func bucketedLoRAJobTrains() throws {
        try writeImages("shapes", count: 1)
        var pixels: [UInt8] = []
        for y in 0..<40 { for x in 0..<16 { pixels += [UInt8(x * 15), UInt8(y * 6), 90] } }
        try Data(try ImageEncoder.png(RGBImage(width: 16, height: 40, pixels: pixels))).write(to: URL(fileURLWithPath: dirs.inbox.path + "/shapes/tall.png"))
        let outcome = try run(job: "shapes", recipe: Self.recipe("lora", steps: 2, extra: "subject: {token: sks}")
            .replacingOccurrences(of: "seed: 5}", with: "seed: 5, buckets: true, batch_size: 2}"), images: 0)
        #expect(outcome == .succeeded)
        let s = try summary("shapes")
        #expect(s.images == 2 && s.losses.count == 2 && s.losses.allSatisfy { $0.loss.isFinite })
    }

    /// Two subjects, each with its folder, token and class: both folders train in one run.
    @Test func multiSubjectDreamBoothTrainsEveryFolder() throws {
        try writeImages("pets/rex", count: 2, seed: 1)
        try writeImages("pets/tom", count: 1, seed: 2)
        try writeImages("pets/class", count: 1, seed: 3)
        let outcome = try run(job: "pets", recipe: """
            version: 1
            method: dreambooth
            base_model: tiny
            subjects:
              - {token: sks, class: dog, folder: rex}
              - {token: zwx, class: cat, folder: tom}
            prior_preservation: {enabled: true, class_images: 1}
            train: {steps: 2, resolution: 64, seed: 2}
            samples: {prompts: ["a photo of sks dog and zwx cat"], seeds: [1], steps: 2, sampler: euler, size: 64}
            """, images: 0)
        #expect(outcome == .succeeded)
        let s = try summary("pets")
        #expect(s.images == 3 && s.classImages == 2 && s.losses.count == 2)
    }

    @Test func textualInversionPublishesBothEmbeddingFiles() throws {
        let outcome = try run(job: "toy", recipe: Self.recipe("textual_inversion", steps: 2, extra: "subject: {token: \"<toy>\", initializer: a, vectors: 2}"))
        #expect(outcome == .succeeded)
        let files = dirs.outbox.list("toy/r1")
        #expect(files.contains("learned_embeds.safetensors") && files.contains("toy.safetensors"))
    }

    @Test func dreamBoothLoRAWithPriorPreservationFromTheClassFolder() throws {
        try writeImages("dog/class", count: 2, seed: 7)
        let outcome = try run(job: "dog", recipe: Self.recipe("dreambooth", steps: 2, extra: """
            subject: {token: sks, class: dog}
            prior_preservation: {enabled: true, class_images: 2}
            outputs: {formats: [diffusers, kohya]}
            """))
        #expect(outcome == .succeeded)
        let s = try summary("dog")
        #expect(s.classImages == 2 && s.images == 2)
        #expect(dirs.outbox.list("dog/r1").contains("lora_kohya.safetensors"))
    }

    /// One photo in class/ and class_images: 3: two are drawn with the base model into the
    /// state's class-image cache, and a second job for the same class reuses them.
    @Test func missingClassImagesAreDrawnOnceAndReused() throws {
        try writeImages("first/class", count: 1, seed: 7)
        let recipe = Self.recipe("dreambooth", steps: 1, extra: """
            subject: {token: sks, class: dog}
            prior_preservation: {enabled: true, class_images: 3}
            """)
        #expect(try run(job: "first", recipe: recipe) == .succeeded)
        #expect(try summary("first").classImages == 3)
        let cache = dirs.state.path + "/class-images"
        let folders = dirs.state.list("class-images")
        #expect(folders.count == 1)
        let drawn = dirs.state.list("class-images/\(folders.first ?? "?")").filter { $0.hasSuffix(".png") }
        #expect(drawn.count == 2)
        let stamp = try FileManager.default.attributesOfItem(atPath: "\(cache)/\(folders.first ?? "?")/\(drawn.first ?? "?")")[.modificationDate] as? Date

        try writeImages("second/class", count: 1, seed: 7)
        #expect(try run(job: "second", recipe: recipe) == .succeeded)
        let again = try FileManager.default.attributesOfItem(atPath: "\(cache)/\(folders.first ?? "?")/\(drawn.first ?? "?")")[.modificationDate] as? Date
        #expect(stamp != nil && stamp == again, "the second job drew its class images again")
    }

    @Test func fullDreamBoothPublishesADiffusersFolder() throws {
        let outcome = try run(job: "full", recipe: Self.recipe("dreambooth", steps: 1, extra: """
            subject: {token: sks, class: dog}
            prior_preservation: {enabled: false}
            outputs: {formats: [diffusers, single_file]}
            """).replacingOccurrences(of: "seed: 5}", with: "seed: 5, full_fine_tune: true, train_text_encoder: false}"))
        #expect(outcome == .succeeded)
        #expect(dirs.outbox.list("full/r1/model").contains("unet"))
        #expect(dirs.outbox.list("full/r1").contains("model.safetensors"))
        #expect(dirs.outbox.list("full/r1/model/unet") == ["config.json", "diffusion_pytorch_model.safetensors"])
    }

    @Test func badInputsFailWithTheFieldNamed() throws {
        let noToken = try run(job: "ti", recipe: Self.recipe("textual_inversion", extra: """
            subject: {token: "<toy>", initializer: a, instance_prompt: "a photo of a toy"}
            """))
        guard case .failed(let message) = noToken else { Issue.record("expected a failure, got \(noToken)"); return }
        #expect(message.contains("subject.instance_prompt"))

        // A caption file without the token passes validation and is refused by training.
        try writeImages("tifiles", count: 1)
        dirs.inbox.write("tifiles/img0.txt", "a toy on a table")
        let captionFile = try run(job: "tifiles", recipe: Self.recipe("textual_inversion", extra: """
            subject: {token: "<toy>", initializer: a}
            captions: {use_files: true, template: "{caption}"}
            """))
        guard case .failed(let captionMessage) = captionFile else { Issue.record("expected a failure, got \(captionFile)"); return }
        #expect(captionMessage.contains("does not contain the token <toy>"))

        // A LoRA-DreamBooth cannot be published as a whole model.
        let singleFile = try run(job: "sf", recipe: Self.recipe("dreambooth", extra: """
            subject: {token: sks, class: dog}
            prior_preservation: {enabled: false}
            outputs: {formats: [single_file]}
            """))
        guard case .failed(let sfMessage) = singleFile else { Issue.record("expected a failure, got \(singleFile)"); return }
        #expect(sfMessage.contains("outputs.formats") && sfMessage.contains("full_fine_tune"))

        let dropout = try run(job: "dropout", recipe: Self.recipe("lora", extra: "subject: {token: sks}\nlora: {dropout: 0.95}"))
        guard case .failed(let dropoutMessage) = dropout else { Issue.record("expected a failure, got \(dropout)"); return }
        #expect(dropoutMessage.contains("lora.dropout"))
    }
}
