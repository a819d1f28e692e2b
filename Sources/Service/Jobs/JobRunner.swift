import Foundation
import Logging
import Synchronization

/// Runs one job's phases in the current process: what `dropbooth run` does, and what the
/// daemon starts in a child process per job. Publishes the result, success or failure, and
/// says how it ended through its exit code (see `Outcome`).
public struct JobRunner: Sendable {
    public enum Outcome: Sendable, Equatable {
        case succeeded
        case failed(String)
        case stopped
        case busy

        /// The child's exit code, read by the daemon's `JobProcess`.
        public var exitCode: Int32 {
            switch self {
            case .succeeded: return 0
            case .failed: return JobRunner.exitFailed
            case .stopped: return JobRunner.exitStopped
            case .busy: return JobRunner.exitBusy
            }
        }
    }

    public static let exitFailed: Int32 = 1        // the job failed; error.txt is published
    public static let exitStopped: Int32 = 75      // EX_TEMPFAIL: checkpointed, run again later
    public static let exitBusy: Int32 = 73         // another process holds this run
    public static let exitCannotRun: Int32 = 70    // EX_SOFTWARE: outbox/state unwritable; nothing published

    public let config: ServiceConfig
    public let job: String
    public let runId: String
    public let jobDirectory: String
    public let phases: [any JobPhase]
    public var shouldStop: @Sendable () -> Bool = { StopRequest.isRequested }
    public var logger: Logger

    public init(config: ServiceConfig, job: String, runId: String, jobDirectory: String,
                phases: [any JobPhase], logger: Logger) {
        self.config = config; self.job = job; self.runId = runId; self.jobDirectory = jobDirectory
        self.phases = phases
        var logger = logger
        logger[metadataKey: "job"] = "\(job)"
        logger[metadataKey: "run"] = "\(runId)"
        self.logger = logger
    }

    public var publisher: RunPublisher { RunPublisher(outbox: config.outbox, job: job, run: runId) }

    /// Where the run's log goes (inside the work folder, so it is published with the results).
    public static func logPath(config: ServiceConfig, job: String, run: String) -> String {
        OutboxLayout(outbox: config.outbox).stagingDirectory(job: job, run: run) + "/log.txt"
    }

    public func run() throws -> Outcome {
        try Directories.create(config.stateDirectory + "/locks/" + job)
        guard let lock = try RunLock.acquire(path: "\(config.stateDirectory)/locks/\(job)/\(runId).lock", timeout: 30) else {
            logger.error("another process is working on this run; not starting it twice")
            return .busy
        }
        defer { withExtendedLifetime(lock) {} }
        let publisher = self.publisher

        // An orphaned process of an earlier daemon may have finished this run while we waited
        // for the lock: a published run is done, and is never run (or published) twice.
        if let published = JobStatus.read(runDirectory: publisher.liveDirectory) {
            switch published.state {
            case .succeeded: logger.info("already published; nothing to do"); return .succeeded
            case .failed: return .failed(published.error ?? "the job failed")
            default: break
            }
        }

        let checkpointPath = RunCheckpoint.path(stateDirectory: config.stateDirectory, job: job, run: runId)
        var checkpoint = RunCheckpoint.load(from: checkpointPath)
        let resuming = !checkpoint.completedPhases.isEmpty || checkpoint.currentPhase != nil
        if checkpoint.started == nil { checkpoint.started = Date() }
        // A process killed during a phase: count that phase's time up to its last save.
        if let phase = checkpoint.currentPhase, let since = checkpoint.currentPhaseStarted,
           let lastSave = (try? FileManager.default.attributesOfItem(atPath: checkpointPath))?[.modificationDate] as? Date {
            checkpoint.addSeconds(lastSave.timeIntervalSince(since), to: phase)
        }
        checkpoint.currentPhaseStarted = nil
        try checkpoint.save(to: checkpointPath)

        let status = Mutex(JobStatus(job: job, run: runId, state: .running, phase: "starting", started: checkpoint.started))
        try publisher.open(status.withLock { $0 })
        if resuming {
            let done = checkpoint.completedPhases.isEmpty ? "none" : checkpoint.completedPhases.joined(separator: ", ")
            logger.info("resuming run: phases done [\(done)], \(checkpoint.currentPhase.map { "\($0) at step \(checkpoint.step)" } ?? "next phase")")
        } else {
            logger.info("starting run")
        }
        try keepRecipeAsRun(in: publisher.stagingDirectory)

        let estimator = Mutex(ProgressEstimator())
        let lastWrite = Mutex(Date.distantPast)
        let notifier = SystemdNotifier()
        let job = self.job
        let onProgress: @Sendable (Int, Int, Double?) -> Void = { step, total, loss in
            let now = Date()
            let snapshot = status.withLock { s -> JobStatus in
                s.step = step; s.total = total; s.loss = loss; s.updated = now
                s.eta = estimator.withLock { $0.eta(step: step, total: total, now: now) }
                return s
            }
            // status.json at most twice a second: a fast phase should not hammer a network share.
            let due = lastWrite.withLock { last -> Bool in
                if now.timeIntervalSince(last) < 0.5 && step < total { return false }
                last = now; return true
            }
            if due {
                try? publisher.updateStatus(snapshot)
                notifier.status("\(job): \(snapshot.phase) \(step)/\(total)")
            }
        }
        let context = JobContext(job: job, runId: runId, jobDirectory: jobDirectory, config: config,
                                 workDirectory: publisher.stagingDirectory, logger: logger,
                                 checkpoint: checkpoint, checkpointPath: checkpointPath,
                                 onProgress: onProgress, shouldStop: shouldStop)
        // The phase running and since when, so that its time is kept however it ends (the
        // report shows seconds per phase, summed over restarts). After a SIGKILL the next
        // start counts the killed phase's time up to its last checkpoint (see above).
        var running: (phase: String, since: Date)?
        func recordRunningPhase() {
            guard let (phase, since) = running else { return }
            context.checkpoint.addSeconds(Date().timeIntervalSince(since), to: phase)
            context.checkpoint.currentPhaseStarted = nil
            running = nil
        }
        do {
            for phase in phases {
                if phase.skipWhenCompleted && context.checkpoint.completedPhases.contains(phase.name) {
                    logger.info("phase \(phase.name): already done before the restart")
                    // A kill after the record but before the cleanup leaves the state behind.
                    discardResumeState(of: phase, context)
                    continue
                }
                try context.checkStop()
                // Only checkpointed phases own the "phase in progress" slot: a cheap phase that
                // reruns after a restart must not wipe the step the interrupted phase reached.
                let started = Date()
                if phase.skipWhenCompleted {
                    if context.checkpoint.currentPhase != phase.name {
                        context.checkpoint.currentPhase = phase.name
                        context.checkpoint.step = 0
                    }
                    context.checkpoint.currentPhaseStarted = started
                    try context.checkpoint.save(to: checkpointPath)
                }
                estimator.withLock { $0.reset() }
                let current = status.withLock { s -> JobStatus in
                    s.phase = phase.name; s.step = 0; s.total = 0; s.eta = nil; s.updated = Date(); return s
                }
                try publisher.updateStatus(current)
                notifier.status("\(job): \(phase.name)")
                logger.info("phase \(phase.name)")
                running = (phase.name, started)
                try phase.run(context)
                recordRunningPhase()
                guard phase.skipWhenCompleted else {
                    try context.checkpoint.save(to: checkpointPath)
                    continue
                }
                if !context.checkpoint.completedPhases.contains(phase.name) { context.checkpoint.completedPhases.append(phase.name) }
                context.checkpoint.currentPhase = nil
                context.checkpoint.step = 0
                try context.checkpoint.save(to: checkpointPath)
                // Only now: until the record is on disk, the resume state is what a restart needs.
                discardResumeState(of: phase, context)
            }
        } catch is JobStopped {
            recordRunningPhase()
            try? context.checkpoint.save(to: checkpointPath)
            logger.notice("stopping at a checkpoint; the run continues later")
            let paused = status.withLock { s -> JobStatus in s.state = .paused; s.eta = nil; s.updated = Date(); return s }
            try? publisher.updateStatus(paused)
            OutboxIndex.refresh(outbox: config.outbox)
            return .stopped
        } catch {
            recordRunningPhase()
            try? context.checkpoint.save(to: checkpointPath)
            let message = (error as? JobFailure)?.message ?? "Internal error: \(error)"
            logger.error("failed: \(message)")
            let failed = status.withLock { s -> JobStatus in
                s.state = .failed; s.error = message; s.eta = nil; s.updated = Date(); return s
            }
            try publisher.publishFailure(message, status: failed)
            return .failed(message)
        }
        logger.info("run finished; publishing")
        let done = status.withLock { s -> JobStatus in
            s.state = .succeeded; s.phase = "done"; s.eta = nil; s.updated = Date(); return s
        }
        try publisher.publish(done)
        return .succeeded
    }

    /// A phase's resume state is only disk space once the phase is recorded as done: failing
    /// to remove it is logged, and the next start of the run tries again.
    private func discardResumeState(of phase: any JobPhase, _ context: JobContext) {
        do { try phase.discardResumeState(context) } catch {
            logger.warning("phase \(phase.name): its resume state could not be removed (\(error)); the next start tries again")
        }
    }

    /// The recipe as it was run, copied once at the first start (a resumed run keeps it).
    private func keepRecipeAsRun(in work: String) throws {
        let target = work + "/recipe.yaml"
        guard !FileManager.default.fileExists(atPath: target) else { return }
        let source = jobDirectory + "/" + InboxScanner.recipeFileName
        guard let data = try? InputFile.read(source, limit: config.limits.maxRecipeBytes) else { return }
        try AtomicFile.write(data, to: target)
    }
}
