import ArgumentParser
import Diffusion
import Foundation
import Imaging
import ModelIO
import TensorEngine
import Training

/// `dropbooth bench job`: a whole small LoRA job — load the model, cache the images' latents
/// and text states, train, save the adapter — with the seconds of each phase, next to the same
/// job done by diffusers + peft on the CPU (scripts/bench/torch_training_job.py) on the same
/// model folder and images, from one run.
///
/// The same job on both sides: the first `--count` images of `--images` by name, captions from
/// `<image>.txt`, center crop to `--resolution`, LoRA rank `--rank` on the UNet's attention
/// projections, AdamW at 1e-4, batch 1, ε-prediction MSE, float32. The model is any diffusers
/// folder; for SD 1.5's shapes without its weights, `torch_training_job.py --save-model DIR`
/// writes its random-weight SD 1.5 as one first.
struct BenchJobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "A whole small LoRA job, seconds per phase, side by side with diffusers + peft."
    )

    @Option(help: "A diffusers model folder (default: models/default).")
    var model = "models/default"

    @Option(help: "Folder of training images with optional <image>.txt captions (default: demo/star).")
    var images = "demo/star"

    @Option(help: "Images to train on: the first N by name.")
    var count = 5

    @Option(help: "Optimiser steps (batch 1).")
    var steps = 100

    @Option(help: "Square training size in pixels (32 suits the default model; 512 for SD 1.5 shapes).")
    var resolution = 32

    @Option(help: "LoRA rank on the attention projections.")
    var rank = 4

    @Option(help: "Threads for the engine (and torch.set_num_threads). Default: every core.")
    var threads: Int?

    @Flag(help: "Do not run the PyTorch side.")
    var noTorch = false

    @Flag(help: "Keep the frozen Linear/Conv2d weights in float16 (as DROPBOOTH_HALF_WEIGHTS=1 does), widened per layer when used; the PyTorch side stays float32.")
    var halfWeights = false

    @Option(help: "The PyTorch side. Default: scripts/bench/torch_training_job.py in the current directory.")
    var torchScript = "scripts/bench/torch_training_job.py"

    mutating func run() throws {
        let threads = max(1, threads ?? EngineThreads.count)
        EngineThreads.count = threads
        if halfWeights { LayerWeightStorage.mode = .half }
        let size = resolution
        let examples = try loadImages()

        var seconds: [(String, Double)] = []
        func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let start = Date()
            defer { seconds.append((name, Date().timeIntervalSince(start))) }
            return try body()
        }
        var options = TrainingRunOptions(
            method: .lora(LoRAOptions(rank: rank, alpha: Float(rank), targets: [.attention], initialization: .gaussian)),
            methodName: "lora", resolution: size, steps: steps,
            optimizer: OptimizerOptions(learningRate: 1e-4, totalSteps: steps))
        options.seed = 0
        let run = try timed("load+cache") { try TrainingRun(basePath: model, options: options, images: examples) }
        var lastLoss: Float = .nan
        timed("train") { for _ in 0..<steps { lastLoss = run.trainStep().loss } }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-bench-job-\(getpid())").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        try timed("save") {
            let info = DropboothAdapterInfo(baseModel: model, method: "lora", rank: rank, alpha: Float(rank), steps: steps,
                                            recipeFingerprint: "bench")
            guard let adapter = run.loraAdapter(info: info) else { throw ValidationError("the run made no LoRA") }
            try DiffusersLoRAFormat.write(adapter, to: out + "/pytorch_lora_weights.safetensors")
        }
        let ours = Dictionary(uniqueKeysWithValues: seconds)
        let peak = peakResidentMiB() ?? .nan

        print("job: LoRA r\(rank) attention, \(examples.count) image(s), \(steps) steps at \(size) px, batch 1, \(threads) thread(s); model \(model)"
              + (LayerWeightStorage.mode == .half ? "; frozen weights float16, widened per layer" : ""))
        var torch: [String: Double] = [:]
        var torchPeak: Double?
        if !noTorch {
            if let result = try runTorch(size: size, threads: threads) {
                for (key, value) in result.seconds { torch[key] = value }
                torch["load+cache"] = (torch["load"] ?? 0) + (torch["cache"] ?? 0)
                torchPeak = result.peakMiB
            }
        }
        let header = "phase".padding(toLength: 14, withPad: " ", startingAt: 0) + "   ours s   torch s    time"
        print(header)
        print(String(repeating: "-", count: header.count))
        for phase in ["load+cache", "train", "save"] {
            let o = ours[phase] ?? 0
            let t = torch[phase]
            print(phase.padding(toLength: 14, withPad: " ", startingAt: 0)
                  + String(format: " %9.2f", o)
                  + (t.map { String(format: " %9.2f %6.2fx", $0, o / $0) } ?? "         -       -"))
        }
        let oursTotal = ours.values.reduce(0, +)
        let torchTotal = ["load+cache", "train", "save"].compactMap { torch[$0] }.reduce(0, +)
        print("total".padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: " %9.2f", oursTotal)
              + (torch.isEmpty ? "" : String(format: " %9.2f %6.2fx", torchTotal, oursTotal / torchTotal)))
        print(String(format: "per step: ours %.3f s", (ours["train"] ?? 0) / Double(steps))
              + (torch["train"].map { String(format: ", torch %.3f s", $0 / Double(steps)) } ?? ""))
        print(String(format: "peak memory: ours %.0f MiB", peak) + (torchPeak.map { String(format: ", torch %.0f MiB", $0) } ?? ""))
        print(String(format: "last loss: ours %.4f", lastLoss))
        print("(time: ours / torch, below 1 is faster; both sides from this run)")
    }

    /// The first `count` images by name, decoded (EXIF applied), with their caption files.
    private func loadImages() throws -> [TrainingImage] {
        let names = try FileManager.default.contentsOfDirectory(atPath: images)
            .filter { [".png", ".jpg", ".jpeg"].contains(("." + ($0 as NSString).pathExtension).lowercased()) }
            .sorted().prefix(count)
        guard names.count == count else { throw ValidationError("\(images): \(names.count) image(s), --count \(count) asked for") }
        return try names.map { name in
            let path = images + "/" + name
            let image = try ImageDecoder.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))).image
            let captionPath = images + "/" + (name as NSString).deletingPathExtension + ".txt"
            let caption = (try? String(contentsOfFile: captionPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "a photo of sks dog"
            return TrainingImage(name: name, image: image, caption: caption)
        }
    }

    private func runTorch(size: Int, threads: Int) throws -> (seconds: [String: Double], peakMiB: Double?)? {
        guard FileManager.default.fileExists(atPath: torchScript) else {
            print("torch side: \(torchScript) not found (run from the repository root); ours only"); return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", torchScript, "--model", model, "--images", images, "--count", String(count),
                             "--steps", String(steps), "--resolution", String(size), "--rank", String(rank),
                             "--threads", String(threads)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let seconds = json["seconds"] as? [String: Double] else {
            print("torch side: failed (exit \(process.terminationStatus)); ours only"); return nil
        }
        return (seconds, json["peak_rss_mib"] as? Double)
    }
}
