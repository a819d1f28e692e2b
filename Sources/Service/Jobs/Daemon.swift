import Foundation
import Logging
import ServiceLifecycle

/// `dropbooth serve`: watches the inbox, queues ready jobs, runs them one at a time in child
/// processes, and keeps systemd informed. One event loop owns all the state; the watcher, the
/// ticker, the child's exit and the shutdown signal only post events to it.
public final class Daemon: Service, Sendable {
    public struct Options: Sendable {
        /// The config file, passed on to each child.
        public var configPath: String?
        /// The `dropbooth` binary started per job.
        public var executable: String
        /// Exit once every job present at start is done (for scripts, the demo and tests).
        public var once = false
        /// Watch the inbox with inotify (off: periodic rescans alone, as on a share whose
        /// changes come from other machines).
        public var watchInbox = true
        /// Whether jobs may run at a given time; nil follows the config's quiet hours.
        public var schedule: (@Sendable (Date) -> Bool)?
        public init(configPath: String?, executable: String, once: Bool = false,
                    schedule: (@Sendable (Date) -> Bool)? = nil) {
            self.configPath = configPath; self.executable = executable; self.once = once; self.schedule = schedule
        }
    }

    enum Event: Sendable {
        case nudge(InotifyWatcher.Nudge)
        case tick
        case jobEnded(JobProcess.Ending)
        case shutdown
    }

    public let config: ServiceConfig
    public let options: Options
    public let logger: Logger

    public init(config: ServiceConfig, options: Options, logger: Logger) {
        self.config = config; self.options = options; self.logger = logger
    }

    /// Held while a daemon works on this state directory: one daemon per state.
    public static func lockPath(_ config: ServiceConfig) -> String { config.stateDirectory + "/daemon.lock" }

    /// Between ticks the loop looks at settling folders and the rescan timer, and pings the
    /// watchdog. Short enough to notice a settled folder promptly, long enough to cost nothing.
    var tickInterval: Double { min(1.0, max(0.1, config.settleSeconds / 4)) }

    public func run() async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config.inbox, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ServiceError("the inbox \(config.inbox) does not exist or is not a folder (config: inbox)")
        }
        try Directories.create(config.stateDirectory)
        try Directories.create(config.outbox)
        guard let instanceLock = try RunLock.acquire(path: Daemon.lockPath(config), timeout: 2) else {
            throw ServiceError("another `dropbooth serve` is already using the state directory \(config.stateDirectory)")
        }
        defer { withExtendedLifetime(instanceLock) {} }
        let store = try RunStore(stateDirectory: config.stateDirectory)
        let notifier = SystemdNotifier()
        let (events, post) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)

        let logger = self.logger
        let watcher = InotifyWatcher(inbox: config.inbox, log: { logger.warning("\($0)") }) { post.yield(.nudge($0)) }
        if options.watchInbox { watcher.start() }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(tickInterval * 1000)))
                post.yield(.tick)
            }
        }
        defer { ticker.cancel(); watcher.stop() }

        var loop = Loop(daemon: self, store: store, notifier: notifier, post: post)
        loop.recoverInterruptedRuns()
        notifier.ready(status: "watching \(config.inbox)")
        logger.info("watching \(config.inbox); results go to \(config.outbox)")

        await withGracefulShutdownHandler {
            post.yield(.nudge(.changed))       // first scan right away
            for await event in events {
                if loop.handle(event) == .exit { break }
            }
        } onGracefulShutdown: {
            post.yield(.shutdown)
        }
        notifier.stopping()
        logger.info("stopped")
    }
}

/// A problem that stops the daemon from starting, said in words.
public struct ServiceError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
