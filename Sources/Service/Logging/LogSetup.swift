import Foundation
import Logging

/// Where logs go: the journal when systemd started us (it sets JOURNAL_STREAM or INVOCATION_ID),
/// standard error otherwise (a terminal, CI, a container).
public enum LogSetup {
    public static var isUnderSystemd: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["JOURNAL_STREAM"] != nil || environment["INVOCATION_ID"] != nil
    }

    /// The journal is used only if its socket is there: a copied environment (a shell started
    /// from a unit, a container) must not send the logs into nothing.
    public static var journalAvailable: Bool {
        isUnderSystemd && FileManager.default.fileExists(atPath: "/run/systemd/journal/socket")
    }

    /// Call once per process. `runLog`: also append to this run's log file (the `run` child).
    public static func bootstrap(runLog: String? = nil, level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            var handlers: [any LogHandler] = []
            if journalAvailable {
                handlers.append(JournalLogHandler(label: label))
            } else {
                handlers.append(StreamLogHandler.standardError(label: label))
            }
            if let runLog { handlers.append(RunLogHandler(path: runLog)) }
            var handler = MultiplexLogHandler(handlers)
            handler.logLevel = level
            return handler
        }
    }
}
