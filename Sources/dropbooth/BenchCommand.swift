import ArgumentParser
import Foundation
import TensorEngine

/// `dropbooth bench …`: measurements, not tests. Run them from a release build.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine on this machine.",
        subcommands: [BenchEngineCommand.self, BenchUNetCommand.self, BenchSampleCommand.self, BenchJobCommand.self]
    )
}

/// `dropbooth bench engine`: GFLOP/s of the engine's GEMM, conv2d and attention kernels on the
/// SD 1.5 UNet's shapes at 512 px, next to PyTorch's for the same work when torch is installed.
///
/// The load of a shared machine drifts by the minute, so the two sides are not run one after
/// the other as wholes: a PyTorch worker process (scripts/bench/torch_engine.py --serve) runs
/// each case right after the engine has, and every figure is the best over all rounds.
struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "GFLOP/s of sgemm, conv2d and attention (SD 1.5 shapes, 512 px), side by side with PyTorch."
    )

    @OptionGroup var side: TorchComparisonOptions

    @Option(help: "Timed runs per measurement after one warm-up; the best is reported.")
    var repeats: Int = 3

    @Option(help: "Passes over the whole case list, alternating engine and PyTorch per case; the best of all is reported.")
    var rounds: Int = 2

    @Option(help: "Only cases whose name contains this text.")
    var filter: String?

    @Option(help: "Lowering for the 3x3 convolutions: auto, shifted-taps or im2col (to compare them).")
    var convMethod: ConvMethodChoice = .auto

    @Option(help: "Only this pass: fwd, bwd or \"bwd input only\".")
    var pass: String?

    @Flag(help: "Measure thread CPU time, not wall time (with --threads 1: steadier on a busy machine).")
    var cpuTime = false

    @Flag(help: "Print the case list as JSON (the input of scripts/bench/torch_engine.py) and exit.")
    var printCases = false

    mutating func run() throws {
        let threads = side.applyThreads()
        var cases = BenchCase.stableDiffusion15
        if let filter { cases = cases.filter { $0.name.localizedCaseInsensitiveContains(filter) } }
        if printCases {
            print(String(decoding: try JSONEncoder().encode(cases), as: UTF8.self))
            return
        }
        warnIfDebugBuild()
        print("dropbooth bench engine: \(threads) threads, best of \(repeats) runs × \(rounds) rounds after a warm-up, float32, batch 1")

        let torch = side.noTorch ? nil : TorchWorker.start(script: side.script(default: "torch_engine.py"), threads: threads, repeats: repeats,
                                                      cpuTime: cpuTime && threads == 1)
        var ours = BestResults(), theirs = BestResults()
        var bench = EngineBenchmark(repeats: repeats, convMethod: convMethod.method, onlyPass: pass)
        bench.cpuTime = cpuTime && threads == 1
        if cpuTime && threads != 1 { print("--cpu-time needs --threads 1; measuring wall time") }
        for round in 1...max(1, rounds) {
            for c in cases {
                bench.run([c]) { ours.add($0) }
                if let torch { for r in try torch.measure(c) { theirs.add(r) } }
                let mine = ours.results.filter { $0.name == c.name }
                let line = mine.map { r in
                    let t = theirs.best(r.name, r.pass).map { String(format: " (torch %.1f)", $0.seconds * 1e3) } ?? ""
                    return String(format: "%@ %.1f ms", r.pass, r.seconds * 1e3) + t
                }
                print("  round \(round)  \(c.name): " + line.joined(separator: ", "))
                fflush(nil)  // progress shows even when stdout is a pipe
            }
        }
        printTable(ours: ours.results, ourPeak: peakResidentMiB(), torch: torch, theirs: theirs)
    }

    func printTable(ours: [BenchResult], ourPeak: Double?, torch: TorchWorker?, theirs: BestResults) {
        print("")
        var header = pad("case", 24) + pad("pass", 15) + lpad("GFLOP", 7) + lpad("dropbooth ms", 14) + lpad("GFLOP/s", 9)
        if torch != nil { header += lpad("torch ms", 11) + lpad("GFLOP/s", 9) + lpad("speed-up", 10) }
        print(header)
        print(String(repeating: "-", count: header.count))
        for r in ours {
            var line = pad(r.name, 24) + pad(r.pass, 15) + lpad(String(format: "%.2f", r.gflop), 7)
                + lpad(String(format: "%.1f", r.seconds * 1e3), 14) + lpad(String(format: "%.1f", r.gflops), 9)
            if let t = theirs.best(r.name, r.pass) {
                line += lpad(String(format: "%.1f", t.seconds * 1e3), 11) + lpad(String(format: "%.1f", t.gflops), 9)
                    + lpad(String(format: "%.2fx", t.seconds / r.seconds), 10)
            }
            print(line)
        }
        print("")
        let peak = ourPeak.map { String(format: "%.0f MiB", $0) } ?? "unknown"
        let torchPeak = torch?.peakRSSMiB.map { String(format: ",  torch %.0f MiB (incl. the torch runtime)", $0) } ?? ""
        print("peak RSS  dropbooth \(peak)\(torchPeak)")
        if let torch { print("torch \(torch.version), \(EngineThreads.count) threads; speed-up = torch time / dropbooth time") }
    }
}

enum ConvMethodChoice: String, ExpressibleByArgument, CaseIterable {
    case auto
    case shiftedTaps = "shifted-taps"
    case im2col
    case winograd

    var method: Conv2DMethod? {
        switch self {
        case .auto: return nil
        case .shiftedTaps: return .shiftedTaps
        case .im2col: return .im2colTiles
        case .winograd: return .winograd
        }
    }
}

/// The fastest time seen per (case, pass), in first-seen order.
struct BestResults {
    private(set) var results: [BenchResult] = []

    mutating func add(_ r: BenchResult) {
        if let i = results.firstIndex(where: { $0.name == r.name && $0.pass == r.pass }) {
            if r.seconds < results[i].seconds { results[i] = r }
        } else {
            results.append(r)
        }
    }

    func best(_ name: String, _ pass: String) -> BenchResult? {
        results.first { $0.name == name && $0.pass == pass }
    }
}

/// scripts/bench/torch_engine.py --serve in a child python3: one JSON case per line in, one
/// JSON line of results out.
final class TorchWorker {
    let version: String
    private(set) var peakRSSMiB: Double?
    private let process: Process
    private let input: FileHandle
    private var lines: LineReader

    private struct Header: Decodable { var version: String }
    private struct Answer: Decodable {
        var results: [BenchResult]
        var peak_rss_mib: Double
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    /// nil (with the reason printed) when python3 has no torch or `script` (nil: not found) is missing.
    static func start(script: String?, threads: Int, repeats: Int, cpuTime: Bool = false) -> TorchWorker? {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import torch"]
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { print("PyTorch side skipped: python3 not found."); return nil }
        check.waitUntilExit()
        guard check.terminationStatus == 0 else {
            print("PyTorch side skipped: `python3 -c \"import torch\"` failed.")
            return nil
        }
        guard let path = script else {
            print("PyTorch side skipped: scripts/bench/torch_engine.py not found (give --torch-script).")
            return nil
        }
        do {
            let worker = try TorchWorker(script: path, threads: threads, repeats: repeats, cpuTime: cpuTime)
            print("PyTorch \(worker.version) runs each case after the engine (\(path))")
            return worker
        } catch {
            print("PyTorch side skipped: \(error)")
            return nil
        }
    }

    private init(script: String, threads: Int, repeats: Int, cpuTime: Bool) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--serve", "--quiet", "--threads", String(threads), "--repeats", String(repeats)]
            + (cpuTime ? ["--cpu-time"] : [])
        let toChild = Pipe(), fromChild = Pipe()
        process.standardInput = toChild
        process.standardOutput = fromChild
        process.standardError = FileHandle.standardError
        try process.run()
        input = toChild.fileHandleForWriting
        lines = LineReader(fromChild.fileHandleForReading)
        guard let line = lines.next() else { throw Failed(description: "\(script) exited before answering") }
        version = try JSONDecoder().decode(Header.self, from: line).version
    }

    func measure(_ c: BenchCase) throws -> [BenchResult] {
        input.write(try JSONEncoder().encode(c) + Data("\n".utf8))
        guard let line = lines.next() else { throw Failed(description: "the PyTorch worker exited during \(c.name)") }
        let answer = try JSONDecoder().decode(Answer.self, from: line)
        peakRSSMiB = answer.peak_rss_mib
        return answer.results
    }

    deinit {
        try? input.close()
        process.waitUntilExit()
    }
}

/// Lines from a pipe, buffered.
struct LineReader {
    let handle: FileHandle
    var buffer = Data()

    init(_ handle: FileHandle) { self.handle = handle }

    mutating func next() -> Data? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                return Data(line)
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}
