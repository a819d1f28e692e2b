import ArgumentParser
import Foundation
import Service

/// `dropbooth status`: the running job with progress and ETA, the queue, recent results.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running job, the queue and recent results."
    )

    @Option(name: .long, help: "The service config file.")
    var config: String = ServiceConfig.defaultPath

    func run() throws {
        let serviceConfig = try ServiceConfigFile.load(config)
        print(try StatusOverview(config: serviceConfig).render(), terminator: "")
    }
}
