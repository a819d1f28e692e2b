import ArgumentParser
import Foundation
import Logging
import Service
import ServiceLifecycle

/// `dropbooth serve`: the daemon. Under systemd (Type=notify) it reports READY, STATUS and
/// watchdog pings and logs to the journal; elsewhere it runs the same way in the foreground.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Watch the inbox and run jobs one at a time (the service).",
        discussion: """
            Jobs start when their folder holds recipe.yaml and has been quiet for settle_seconds. \
            Each job runs in its own `dropbooth run` process. SIGTERM checkpoints the running job \
            and exits; the job resumes on the next start.
            """
    )

    @Option(name: .long, help: "The service config file.")
    var config: String = ServiceConfig.defaultPath

    @Flag(name: .long, help: "Exit when every job present now is done, instead of watching forever.")
    var once = false

    func run() async throws {
        LogSetup.bootstrap()
        let serviceConfig = try ServiceConfigFile.load(config)
        let logger = Logger(label: "dropbooth.serve")
        let daemon = Daemon(config: serviceConfig,
                            options: .init(configPath: config, executable: JobProcess.currentExecutable, once: once),
                            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch let error as ServiceError {
            FileHandle.standardError.write(Data("dropbooth serve: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// Loads the config or explains, file:line:column, what is wrong with it.
enum ServiceConfigFile {
    static func load(_ path: String) throws -> ServiceConfig {
        do {
            return try ServiceConfig.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("dropbooth: the config file cannot be used:\n\(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }
}
