import ArgumentParser

/// The `dropbooth` command: one executable for the daemon, single jobs, checks and benchmarks.
@main
struct Dropbooth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dropbooth",
        abstract: "Personalise Stable Diffusion on the CPU: drop photos and a recipe, get a LoRA, DreamBooth model or embedding.",
        version: "0.1.0",
        subcommands: [ServeCommand.self, RunCommand.self, CheckCommand.self, StatusCommand.self, BenchCommand.self, SampleCommand.self, MergeLoRACommand.self, PretrainCommand.self, EvalCommand.self]
    )
}
