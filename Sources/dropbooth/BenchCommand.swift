import ArgumentParser
import Foundation
import TensorEngine

/// `dropbooth bench …`: measurements, not tests. Run them from a release build.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine on this machine.",
        subcommands: [BenchEngineCommand.self]
    )
}

/// `dropbooth bench engine`: GFLOP/s of the engine's GEMM, conv2d and attention kernels on the
/// SD 1.5 UNet's shapes at 512 px, next to PyTorch's for the same work when torch is installed.
struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "GFLOP/s of sgemm, conv2d and attention (SD 1.5 shapes, 512 px), side by side with PyTorch."
    )

    @Option(help: "Threads for the engine and for OpenBLAS (and torch.set_num_threads). Default: every core.")
    var threads: Int?

    @Option(help: "Timed runs per measurement after one warm-up; the best is reported.")
    var repeats: Int = 3

    @Option(help: "Only cases whose name contains this text.")
    var filter: String?

    @Flag(help: "Do not run the PyTorch side.")
    var noTorch = false

    @Option(help: "The PyTorch side. Default: scripts/bench/torch_engine.py in the current directory or the source tree.")
    var torchScript: String?

    @Flag(help: "Print the case list as JSON (the input of scripts/bench/torch_engine.py) and exit.")
    var printCases = false

    mutating func run() throws {
        let threads = max(1, threads ?? EngineThreads.count)
        EngineThreads.count = threads
        setBLASThreads(threads)
        var cases = BenchCase.stableDiffusion15
        if let filter { cases = cases.filter { $0.name.localizedCaseInsensitiveContains(filter) } }
        let casesJSON = try JSONEncoder().encode(cases)
        if printCases {
            print(String(decoding: casesJSON, as: UTF8.self))
            return
        }
        #if DEBUG
        print("warning: this is a debug build; measure with `swift build -c release`.")
        #endif
        print("dropbooth bench engine: \(threads) threads, best of \(repeats) after a warm-up, float32, batch 1")

        var ours: [BenchResult] = []
        let bench = EngineBenchmark(repeats: repeats)
        bench.run(cases) { result in
            ours.append(result)
            print("  " + pad(result.name, 24) + pad(result.pass, 15)
                  + String(format: "%8.1f ms  %7.1f GFLOP/s", result.seconds * 1e3, result.gflops))
            fflush(nil)  // all streams: progress shows while a pipe buffers
        }
        let ourPeak = peakResidentMiB()

        var torch: TorchResults?
        if !noTorch {
            torch = TorchSide(script: torchScript).run(casesJSON: casesJSON, threads: threads, repeats: repeats)
        }
        printTable(ours: ours, ourPeak: ourPeak, torch: torch)
    }

    func printTable(ours: [BenchResult], ourPeak: Double?, torch: TorchResults?) {
        print("")
        var header = pad("case", 24) + pad("pass", 15) + lpad("GFLOP", 7) + lpad("dropbooth ms", 14) + lpad("GFLOP/s", 9)
        if torch != nil { header += lpad("torch ms", 11) + lpad("GFLOP/s", 9) + lpad("speed-up", 10) }
        print(header)
        print(String(repeating: "-", count: header.count))
        for r in ours {
            var line = pad(r.name, 24) + pad(r.pass, 15) + lpad(String(format: "%.2f", r.gflop), 7)
                + lpad(String(format: "%.1f", r.seconds * 1e3), 14) + lpad(String(format: "%.1f", r.gflops), 9)
            if let t = torch?.results.first(where: { $0.name == r.name && $0.pass == r.pass }) {
                line += lpad(String(format: "%.1f", t.seconds * 1e3), 11) + lpad(String(format: "%.1f", t.gflops), 9)
                    + lpad(String(format: "%.2fx", t.seconds / r.seconds), 10)
            }
            print(line)
        }
        print("")
        let peak = ourPeak.map { String(format: "%.0f MiB", $0) } ?? "unknown"
        print("peak RSS  dropbooth \(peak)" + (torch.map { String(format: ",  torch %.0f MiB (incl. the torch runtime)", $0.peakRSSMiB) } ?? ""))
        if let torch { print("torch \(torch.version), \(torch.threads) threads; speed-up = torch time / dropbooth time") }
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}

/// What scripts/bench/torch_engine.py prints.
struct TorchResults: Decodable {
    var version: String
    var threads: Int
    var peakRSSMiB: Double
    var results: [BenchResult]

    enum CodingKeys: String, CodingKey {
        case version, threads, results
        case peakRSSMiB = "peak_rss_mib"
    }
}

/// Runs the PyTorch side in a child python3, feeding it the case list on stdin.
struct TorchSide {
    var script: String?

    func locate() -> String? {
        if let script { return script }
        let candidates = [
            FileManager.default.currentDirectoryPath + "/scripts/bench/torch_engine.py",
            // The source tree this binary was built from (a development build).
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/bench/torch_engine.py").path,
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    func run(casesJSON: Data, threads: Int, repeats: Int) -> TorchResults? {
        guard (try? runPython(["-c", "import torch"], stdin: nil)) != nil else {
            print("\nPyTorch side skipped: `python3 -c \"import torch\"` failed.")
            return nil
        }
        guard let path = locate() else {
            print("\nPyTorch side skipped: scripts/bench/torch_engine.py not found (give --torch-script).")
            return nil
        }
        print("\nrunning the same work in PyTorch (\(path))…")
        fflush(nil)  // all streams: progress shows while a pipe buffers
        do {
            let output = try runPython([path, "--threads", String(threads), "--repeats", String(repeats)], stdin: casesJSON)
            return try JSONDecoder().decode(TorchResults.self, from: output)
        } catch {
            print("PyTorch side failed: \(error)")
            return nil
        }
    }

    struct Failed: Error, CustomStringConvertible {
        var status: Int32
        var description: String { "python3 exited with status \(status)" }
    }

    private func runPython(_ arguments: [String], stdin input: Data?) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        let inPipe = Pipe()
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(input) }
        try inPipe.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failed(status: process.terminationStatus) }
        return data
    }
}
