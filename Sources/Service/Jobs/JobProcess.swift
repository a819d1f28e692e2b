#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One job's child process: `dropbooth run JOBDIR --run-id … --config …`. A crash in the job
/// (a bug, a bad image that trips a library, the kernel's OOM killer) ends the child, not the
/// daemon, which records it and goes on with the next job.
public final class JobProcess: @unchecked Sendable {
    /// How the child ended, from its exit code or signal (see `JobRunner.Outcome.exitCode`).
    public enum Ending: Sendable, Equatable {
        case succeeded
        case failed              // the child published error.txt itself
        case stopped             // checkpointed on request; run again later
        case busy                // another process held the run's lock
        case crashed(String)     // died without publishing: the daemon publishes the reason

        init(exitCode: Int32) {
            switch exitCode {
            case 0: self = .succeeded
            case JobRunner.exitFailed: self = .failed
            case JobRunner.exitStopped: self = .stopped
            case JobRunner.exitBusy: self = .busy
            case JobRunner.exitCannotRun:
                self = .crashed("The job process could not write its results or its state (is the disk full, or the "
                    + "outbox or state directory not writable?). The service log says more.")
            default: self = .crashed("The job process exited with code \(exitCode) before finishing.")
            }
        }

        init(signal: Int32) {
            let name = String(cString: strsignal(signal))
            self = .crashed("The job process was killed by signal \(signal) (\(name)). "
                + (signal == SIGKILL ? "The machine may have run out of memory; try a lower resolution or batch size." : "This is a bug in dropbooth; the log may tell more."))
        }
    }

    public let job: String
    public let runId: String
    private let process = Process()

    /// The dropbooth executable itself (so the child is the same version as the daemon).
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    public init(executable: String, configPath: String?, job: String, runId: String, jobDirectory: String) {
        self.job = job; self.runId = runId
        process.executableURL = URL(fileURLWithPath: executable)
        var arguments = ["run", jobDirectory, "--run-id", runId]
        if let configPath { arguments += ["--config", configPath] }
        process.arguments = arguments
    }

    public func start(onExit: @escaping @Sendable (Ending) -> Void) throws {
        process.terminationHandler = { process in
            switch process.terminationReason {
            case .uncaughtSignal: onExit(Ending(signal: process.terminationStatus))
            default: onExit(Ending(exitCode: process.terminationStatus))
            }
        }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Asks the child to checkpoint and exit (SIGTERM).
    public func requestStop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    }
}
