import ArgumentParser
import Diffusion
import Foundation
import TensorEngine

/// Options shared by `bench unet` and `bench sample`.
struct ModelBenchOptions: ParsableArguments {
    @OptionGroup var side: TorchComparisonOptions

    @Option(help: "Timed runs per case after the first (which is reported apart: it pays one-time costs); the best is reported.")
    var repeats: Int = 2

    @Option(help: "Passes over the case list, alternating engine and PyTorch per case; the best of all is reported.")
    var rounds: Int = 1

    @Option(help: "Only cases whose name contains this text (e.g. 256, lora, fwd); searches every case, lora-512 included.")
    var filter: String?

    @Flag(help: "Keep the frozen Linear/Conv2d weights in float16 (as DROPBOOTH_HALF_WEIGHTS=1 does), widened per layer when used.")
    var halfWeights = false

    @Option(help: "The random weights act as a checkpoint stored as float32, float16 or bfloat16; layers keep a half checkpoint's precision (the PyTorch side stays float32).")
    var weightsDtype: String = "float32"

    @Option(help: .hidden)
    var worker: String?
}

/// `dropbooth bench unet`: the whole SD 1.5 UNet (random weights, same shapes) — forward and
/// LoRA training step at 256 and 512 px, a guided denoising step and a VAE decode — next to
/// PyTorch (diffusers + peft) doing the same work, each case in a fresh process of each side.
struct BenchUNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet",
        abstract: "Time and peak memory of the SD 1.5 UNet (forward, LoRA step), guided sampling step and VAE decode, side by side with PyTorch."
    )
    @OptionGroup var options: ModelBenchOptions

    mutating func run() throws { try runModelBench(options, cases: options.filter == nil ? ModelBenchCase.defaults : ModelBenchCase.all, command: "unet") }
}

/// `dropbooth bench sample`: the sampling cases only (guided step, VAE decode, 25-step image).
struct BenchSampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Time of a guided denoising step, a VAE decode and a 25-step image at 512 px, side by side with PyTorch."
    )
    @OptionGroup var options: ModelBenchOptions

    mutating func run() throws { try runModelBench(options, cases: ModelBenchCase.sampling, command: "sample") }
}

private func runModelBench(_ o: ModelBenchOptions, cases all: [ModelBenchCase], command: String) throws {
    let threads = o.side.applyThreads()
    if o.halfWeights {
        // The workers are child processes: they inherit the environment.
        setenv("DROPBOOTH_HALF_WEIGHTS", "1", 1)
        LayerWeightStorage.mode = .half
    }
    let weightsFormat: HalfTensor.Format?
    switch o.weightsDtype {
    case "float32": weightsFormat = nil
    case "float16": weightsFormat = .float16
    case "bfloat16": weightsFormat = .bfloat16
    default: throw ValidationError("--weights-dtype \(o.weightsDtype): expected float32, float16 or bfloat16")
    }
    if let name = o.worker {
        guard let c = ModelBenchCase.all.first(where: { $0.name == name }) else {
            throw ValidationError("--worker \(name): no such case (cases: \(ModelBenchCase.all.map(\.name).joined(separator: ", ")))")
        }
        let result = try EngineModelBench(repeats: o.repeats, weightsFormat: weightsFormat).run(c)
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        return
    }
    var cases = all
    if let filter = o.filter { cases = cases.filter { $0.name.localizedCaseInsensitiveContains(filter) } }
    guard !cases.isEmpty else { throw ValidationError("--filter \(o.filter ?? ""): no case matches (cases: \(all.map(\.name).joined(separator: ", ")))") }
    warnIfDebugBuild()
    let script = o.side.noTorch ? nil : o.side.script(default: "torch_models.py")
    if !o.side.noTorch && script == nil { print("PyTorch side skipped: scripts/bench/torch_models.py not found (give --torch-script).") }
    print("dropbooth bench \(command): SD 1.5 shapes, random weights, float32, \(threads) threads, "
          + "first run + best of \(o.repeats) × \(o.rounds) round(s), each case in a fresh process per side")
    let layerWeights: String
    switch (LayerWeightStorage.mode, weightsFormat) {
    case (.float32, _), (.checkpointPrecision, nil): layerWeights = "float32"
    case (_, .float16?), (.half, nil): layerWeights = "float16, widened per layer"
    case (_, .bfloat16?): layerWeights = "bfloat16, widened per layer"
    }
    print("random weights stored as \(o.weightsDtype); frozen layer weights: \(layerWeights)")
    print("load average at start: \(loadAverage())")
    fflush(nil)

    var ours: [String: ModelBenchResult] = [:], theirs: [String: ModelBenchResult] = [:]
    var torchVersion: String?
    var torchFailed = false
    for round in 1...max(1, o.rounds) {
        for c in cases {
            let mine = try runWorker(executable: "/proc/self/exe",
                                     arguments: ["bench", command, "--worker", c.name, "--threads", String(threads), "--repeats", String(o.repeats),
                                                 "--weights-dtype", o.weightsDtype])
            ours[c.name] = better(ours[c.name], mine)
            var line = String(format: "  round %d  %@: dropbooth %.2f s (first %.2f s, peak %.0f MiB)",
                              round, c.name, mine.best_seconds, mine.first_seconds, mine.peak_rss_mib)
            if let script, !torchFailed {
                let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
                do {
                    let t = try runWorker(executable: "/usr/bin/env",
                                          arguments: ["python3", script, "--case", json, "--threads", String(threads), "--repeats", String(o.repeats)])
                    torchVersion = t.version
                    theirs[c.name] = better(theirs[c.name], t)
                    line += String(format: ", torch %.2f s (first %.2f s, peak %.0f MiB)", t.best_seconds, t.first_seconds, t.peak_rss_mib)
                } catch {
                    print("PyTorch side failed on \(c.name), skipped from now on: \(error)")
                    torchFailed = true
                }
            }
            print(line + "  [load \(loadAverage())]")
            fflush(nil)
        }
    }
    printModelTable(cases: cases, ours: ours, theirs: theirs, torchVersion: torchVersion, threads: threads)
}

private func better(_ a: ModelBenchResult?, _ b: ModelBenchResult) -> ModelBenchResult {
    guard var a else { return b }
    // Time: the best seen. Memory: the same work allocates the same, keep the lower high-water mark too.
    if b.best_seconds < a.best_seconds { a.best_seconds = b.best_seconds }
    a.first_seconds = min(a.first_seconds, b.first_seconds)
    a.peak_rss_mib = min(a.peak_rss_mib, b.peak_rss_mib)
    return a
}

private func printModelTable(cases: [ModelBenchCase], ours: [String: ModelBenchResult], theirs: [String: ModelBenchResult],
                             torchVersion: String?, threads: Int) {
    let hasTorch = !theirs.isEmpty
    print("")
    var header = pad("case", 17) + lpad("ours s", 8) + lpad("first", 7) + lpad("peak MiB", 10) + lpad("engine", 8)
    if hasTorch { header += lpad("torch s", 9) + lpad("first", 7) + lpad("peak MiB", 10) + lpad("time", 7) + lpad("memory", 8) }
    print(header)
    print(String(repeating: "-", count: header.count))
    for c in cases {
        guard let r = ours[c.name] else { continue }
        var line = pad(c.name, 17) + lpad(String(format: "%.2f", r.best_seconds), 8) + lpad(String(format: "%.1f", r.first_seconds), 7)
            + lpad(String(format: "%.0f", r.peak_rss_mib), 10) + lpad(r.engine_peak_mib.map { String(format: "%.0f", $0) } ?? "-", 8)
        if let t = theirs[c.name] {
            line += lpad(String(format: "%.2f", t.best_seconds), 9) + lpad(String(format: "%.1f", t.first_seconds), 7)
                + lpad(String(format: "%.0f", t.peak_rss_mib), 10)
                + lpad(String(format: "%.2fx", r.best_seconds / t.best_seconds), 7)
                + lpad(String(format: "%.0f%%", 100 * r.peak_rss_mib / t.peak_rss_mib), 8)
        }
        print(line)
    }
    // A 25-step image: 25 guided steps and one decode (the text encoder adds well under a second).
    if let step = ours["guided-step-512"], let decode = ours["vae-decode-512"] {
        var line = pad("25-step image*", 17) + lpad(String(format: "%.1f", 25 * step.best_seconds + decode.best_seconds), 8)
        if let ts = theirs["guided-step-512"], let td = theirs["vae-decode-512"] {
            let t = 25 * ts.best_seconds + td.best_seconds
            line += String(repeating: " ", count: 25) + lpad(String(format: "%.1f", t), 9) + String(repeating: " ", count: 17)
                + lpad(String(format: "%.2fx", (25 * step.best_seconds + decode.best_seconds) / t), 7)
        }
        print(line)
        print("* estimated: 25 × guided-step-512 + vae-decode-512")
    }
    print("")
    print("ours s / torch s: best time per run; first: the first run (one-time costs); peak MiB: process high-water mark")
    print("(VmHWM, weights included: the fp32 UNet is 3.3 GiB); engine: the most bytes live engine tensors held (weights included).")
    print("time = ours / torch (below 1 is faster); memory = our peak / torch's peak.")
    if let torchVersion { print("torch side: \(torchVersion), \(threads) threads") }
    print("load average at end: \(loadAverage())")
}

/// Runs a worker process and decodes the JSON object on the last line of its output.
private func runWorker(executable: String, arguments: [String]) throws -> ModelBenchResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.standardError
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0,
          let last = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
        throw TorchWorker.Failed(description: "\(arguments.joined(separator: " ")) exited with status \(process.terminationStatus): \(text.suffix(400))")
    }
    return try JSONDecoder().decode(ModelBenchResult.self, from: Data(last.utf8))
}

private func loadAverage() -> String {
    guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
    return s.split(separator: " ").prefix(3).joined(separator: " ")
}
