#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Logging
import Service

/// `dropbooth run JOBDIR`: one job in the foreground. The daemon starts one of these per job;
/// run by hand it does the same (and resumes the same run if it was interrupted).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one job folder in the foreground and publish the results to the outbox.",
        discussion: """
            Exit status: 0 succeeded, 1 the job failed (error.txt is in the outbox), \
            75 stopped at a checkpoint (run it again to continue), 73 another process is running this job, \
            70 the run could not be carried out (outbox or state not writable; nothing published), \
            2 bad arguments or config.
            """
    )

    @Argument(help: "The job folder (photos and recipe.yaml).")
    var jobDirectory: String

    @Option(name: .long, help: "The run to work on (the daemon passes it; by hand it is computed from the folder).")
    var runId: String?

    @Option(name: .long, help: "The service config file.")
    var config: String = ServiceConfig.defaultPath

    func run() throws {
        let serviceConfig = try ServiceConfigFile.load(config)
        let directory = URL(fileURLWithPath: jobDirectory).standardizedFileURL.path
        let job = (directory as NSString).lastPathComponent
        if let problem = JobName.problem(with: job) { fail("cannot run '\(jobDirectory)': \(problem)") }
        var info = stat()
        guard lstat(directory, &info) == 0 else { fail("cannot run '\(jobDirectory)': no such folder") }
        if info.st_mode & S_IFMT == S_IFLNK { fail("cannot run '\(jobDirectory)': it is a symbolic link; give the folder itself") }
        guard info.st_mode & S_IFMT == S_IFDIR else { fail("cannot run '\(jobDirectory)': not a folder") }

        let run: String
        if let runId {
            if let problem = JobName.problem(with: runId) { fail("--run-id: \(problem)") }
            run = runId
        } else {
            let snapshot = InboxScanner(inbox: (directory as NSString).deletingLastPathComponent).snapshot(job: job)
            run = try Fingerprint.of(job: snapshot).runId
        }
        let logPath = JobRunner.logPath(config: serviceConfig, job: job, run: run)
        try Directories.create((logPath as NSString).deletingLastPathComponent)
        LogSetup.bootstrap(runLog: logPath)
        StopRequest.install()

        let runner = JobRunner(config: serviceConfig, job: job, runId: run, jobDirectory: directory,
                               phases: StandardPipeline.phases(), logger: Logger(label: "dropbooth.run"))
        let outcome: JobRunner.Outcome
        do {
            outcome = try runner.run()
        } catch {
            // Not the job's fault and nothing published (a full disk, an unwritable outbox):
            // a distinct exit code lets the daemon publish the failure itself.
            Logger(label: "dropbooth.run").critical("cannot carry out the run: \(error)")
            throw ExitCode(JobRunner.exitCannotRun)
        }
        let folder = runner.publisher.liveDirectory
        switch outcome {
        case .succeeded: print("published \(folder)")
        case .failed: print("failed: see \(folder)/error.txt")
        case .stopped: print("stopped at a checkpoint; run again to continue")
        case .busy: print("another process is working on this run")
        }
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("dropbooth run: \(message)\n".utf8))
        Foundation.exit(2)
    }
}
