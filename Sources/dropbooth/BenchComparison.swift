import ArgumentParser
import Foundation
import TensorEngine

/// What the benches that time the engine next to PyTorch (`bench engine`, `bench unet`,
/// `bench sample`) share: the thread count both sides use and where the PyTorch side's script is.
struct TorchComparisonOptions: ParsableArguments {
    @Option(help: "Threads for the engine and OpenBLAS (and torch.set_num_threads). Default: every core.")
    var threads: Int?

    @Flag(help: "Do not run the PyTorch side.")
    var noTorch = false

    @Option(help: "The PyTorch side. Default: the command's script in scripts/bench/ (torch_engine.py for engine, torch_models.py for unet and sample) in the current directory or the source tree.")
    var torchScript: String?

    /// Sets the engine's and OpenBLAS's thread counts (--threads, else every core); the count set.
    func applyThreads() -> Int {
        let count = max(1, threads ?? EngineThreads.count)
        EngineThreads.count = count
        setBLASThreads(count)
        return count
    }

    /// --torch-script, else scripts/bench/`file` in the current directory or, for a development
    /// build, in the source tree the binary was built from; nil when neither exists.
    func script(default file: String) -> String? {
        if let torchScript { return torchScript }
        let candidates = [
            FileManager.default.currentDirectoryPath + "/scripts/bench/" + file,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/bench/" + file).path,
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

/// Measuring a debug build says little about a release one.
func warnIfDebugBuild() {
    #if DEBUG
    print("warning: this is a debug build; measure with `swift build -c release`.")
    #endif
}

/// Table columns of the bench reports: `s` left-aligned (pad) or right-aligned (lpad) in `n`
/// characters, with at least one space between columns.
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
