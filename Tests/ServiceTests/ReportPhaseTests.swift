import Foundation
import Logging
import Testing
@testable import Service

/// report.html and report.json from a work folder laid out as the earlier phases leave it.
@Suite struct ReportPhaseTests {
    let work = TemporaryDirectory()
    static let hostile = "<img src=x onerror=alert(1)>"

    func context(_ checkpoint: RunCheckpoint = RunCheckpoint(), plan: JobPlan? = nil) -> JobContext {
        let context = JobContext(job: "alice", runId: "r1", jobDirectory: "/nonexistent", config: ServiceConfig(inbox: work.path, outbox: work.path, stateDirectory: work.path),
                                 workDirectory: work.path, logger: Logger(label: "test"), checkpoint: checkpoint,
                                 checkpointPath: work.path + "/../unused-checkpoint.json",
                                 onProgress: { _, _, _ in }, shouldStop: { false })
        if let plan { context.values[JobPlan.key] = plan }
        return context
    }

    /// What the validate and preflight phases leave: the recipe, a preflight report with a
    /// caption and a rejected file (both hostile), the contact sheet, the estimate.
    func writePreflight() throws {
        work.write("recipe.yaml", "method: lora\ninstance_prompt: \"photo of sks \(Self.hostile)\"\n")
        var report = PreflightReport(folder: "")
        report.accepted = [.init(fileName: "a.jpg", format: "jpeg", storedWidth: 600, storedHeight: 600, width: 600, height: 600,
                                 exifOrientation: 1, caption: "a dog \(Self.hostile)")]
        report.rejected = [.init(fileName: "<b>bad</b>.jpg", reason: "not an image")]
        report.notes = ["center crop"]
        try AtomicFile.write(report.jsonData(), to: work.path + "/preflight.json")
        var classReport = PreflightReport(folder: "class")
        classReport.accepted = [.init(fileName: "c.png", format: "png", storedWidth: 64, storedHeight: 64, width: 64, height: 64,
                                      exifOrientation: 1, caption: nil)]
        try AtomicFile.write(classReport.jsonData(), to: work.path + "/preflight-class.json")
        work.write("contact-sheet.jpg", "jpeg bytes")
        work.write("rejected.txt", "<b>bad</b>.jpg: not an image\n")
        work.write("estimate.txt", "Estimated training time: 2h 10m\n")
    }

    func summary() -> TrainingSummary {
        TrainingSummary(method: "lora", baseModel: "sd15", baseModelPath: "/models/sd15", steps: 300, totalSteps: 300,
                        images: 12, classImages: 0,
                        seconds: ["cache": 30, "train": 3600, "samples": 120, "export": 2, "extra part": 1],
                        losses: (1...300).map { .init(step: $0, loss: 0.1 + 0.05 * cos(Double($0)), learningRate: 1e-4) },
                        grids: [.init(file: "samples/step-000150.jpg", step: 150, title: "after 150 steps", comparesBase: false),
                                .init(file: "samples/final.jpg", step: 300, title: "base model | trained \(Self.hostile)", comparesBase: true)],
                        outputs: [.init(file: "pytorch_lora_weights.safetensors", format: "diffusers",
                                        description: "LoRA for diffusers", usage: "pipe.load_lora_weights(\"out\") # <tag>")])
    }

    func read(_ name: String) throws -> String {
        try String(contentsOfFile: work.path + "/" + name, encoding: .utf8)
    }

    @Test func trainedRunReportShowsEverything() throws {
        try writePreflight()
        try FileManager.default.createDirectory(atPath: work.path + "/training", withIntermediateDirectories: true)
        try AtomicFile.writeJSON(summary(), to: work.path + "/" + TrainingSummary.relativePath)
        var checkpoint = RunCheckpoint()
        checkpoint.completedPhases = ["preflight", "training"]
        checkpoint.phaseSeconds = ["validate": 0.2, "preflight": 12, "training": 3752]

        try ReportPhase().run(context(checkpoint, plan: JobPlan(method: "lora", dryRun: false)))
        let html = try read("report.html")

        // What ran, the curve, the grids (final comparison first), the outputs with usage.
        #expect(html.contains("LoRA on <b>sd15</b>"))
        #expect(html.contains("300 steps") && html.contains("12 images"))
        #expect(html.contains("<svg") && html.contains("class=\"smoothed\""))
        let final = try #require(html.range(of: "./samples/final.jpg"))
        let intermediate = try #require(html.range(of: "./samples/step-000150.jpg"))
        #expect(final.lowerBound < intermediate.lowerBound)
        #expect(html.contains("after 150 steps"))
        #expect(html.contains("href=\"./pytorch_lora_weights.safetensors\""))
        #expect(html.contains("pipe.load_lora_weights(&quot;out&quot;) # &lt;tag&gt;"))
        // Timings per phase in run order, and per part of training.
        let phases = ["validate", "preflight", "training"].compactMap { html.range(of: "<td>\($0)</td>")?.lowerBound }
        #expect(phases.count == 3 && phases == phases.sorted())
        #expect(html.contains("1h 02m"))                       // training phase, 3752 s
        #expect(html.contains("caching latents and text") && html.contains("extra part"))
        // Preflight: contact sheet, captions, rejected files, estimate; and the recipe.
        #expect(html.contains("./contact-sheet.jpg"))
        #expect(html.contains("Folder class/: 1 image used"))
        #expect(html.contains("&lt;b&gt;bad&lt;/b&gt;.jpg: not an image"))
        #expect(html.contains("Estimated training time: 2h 10m"))
        #expect(html.contains("instance_prompt:"))

        // No user text gets through unescaped.
        #expect(!html.contains(Self.hostile))
        #expect(!html.contains("<b>bad"))
        #expect(html.contains("a dog &lt;img src=x onerror=alert(1)&gt;"))

        let json = try AtomicFile.readJSON(RunReport.self, from: work.path + "/report.json")
        #expect(json.training == summary())
        #expect(json.phases.map(\.name) == ["validate", "preflight", "training"])
        #expect(json.preflight.map(\.folder) == ["", "class"])
        #expect(json.preflight.first?.contactSheet == "contact-sheet.jpg")
        #expect(json.rejectedFiles == ["<b>bad</b>.jpg: not an image"])
        #expect(json.method == "lora" && !json.dryRun)
    }

    @Test func dryRunGetsAPreflightReport() throws {
        try writePreflight()
        var checkpoint = RunCheckpoint()
        checkpoint.phaseSeconds = ["validate": 0.1, "preflight": 3]
        try ReportPhase().run(context(checkpoint, plan: JobPlan(method: "dreambooth", dryRun: true)))
        let html = try read("report.html")
        #expect(html.contains("DreamBooth: dry run, preflight only"))
        #expect(html.contains("1 usable image") || html.contains("2 usable images"))
        #expect(!html.contains("<svg"))
        #expect(html.contains("./contact-sheet.jpg"))
        #expect(html.contains("Recipe as run"))
        let json = try AtomicFile.readJSON(RunReport.self, from: work.path + "/report.json")
        #expect(json.dryRun && json.training == nil)
        #expect(json.estimate == "Estimated training time: 2h 10m\n")
    }

    @Test func unreadableSummaryIsReportedNotFatal() throws {
        work.write("training/summary.json", "{ not json")
        try ReportPhase().run(context())
        let html = try read("report.html")
        #expect(html.contains("Problems while writing this report"))
        #expect(html.contains("training/summary.json could not be read"))
        #expect(html.contains("No files were rejected."))
    }

    @Test func longCurvesAreThinnedInTheJSONOnly() throws {
        var long = summary()
        long.losses = (1...100_000).map { .init(step: $0, loss: $0 == 77_777 ? 9 : 0.1, learningRate: 1e-4) }
        try FileManager.default.createDirectory(atPath: work.path + "/training", withIntermediateDirectories: true)
        try AtomicFile.writeJSON(long, to: work.path + "/" + TrainingSummary.relativePath)
        try ReportPhase().run(context())
        let json = try AtomicFile.readJSON(RunReport.self, from: work.path + "/report.json")
        let losses = try #require(json.training?.losses)
        #expect(losses.count <= ReportPhase.maxLossPointsInJSON)
        #expect(losses.first?.step == 1 && losses.last?.step == 100_000)
        #expect(json.lossPointsRecorded == 100_000)
        // The chart still sees the one spike.
        #expect(try read("report.html").contains(">9.0</text>") || read("report.html").contains(">9</text>") || read("report.html").contains(">10</text>"))
    }

    @Test func linksCannotBecomeURLSchemes() {
        #expect(HTMLText.relativeLink("javascript:alert(1)") == "./javascript:alert(1)")
        #expect(HTMLText.relativeLink("/etc/passwd") == "./etc/passwd")
        #expect(HTMLText.relativeLink("samples/a b#1.jpg") == "./samples/a%20b%231.jpg")
        #expect(HTMLText.relativeLink("x\"onload=\"y") == "./x%22onload=%22y")
    }
}
