import Foundation
import Logging

extension Daemon {
    enum Next { case carryOn, exit }

    /// The daemon's state and what it does with each event. Not shared: only the event loop in
    /// `Daemon.run` touches it.
    struct Loop {
        let daemon: Daemon
        let store: RunStore
        let notifier: SystemdNotifier
        let post: AsyncStream<Event>.Continuation
        var intake: JobIntake
        let scanner: InboxScanner
        let start = ContinuousClock.now
        var lastFullScan: Double = -.infinity
        var scanRequested = true
        var current: (record: RunRecord, process: JobProcess)?
        var pausing = false
        var shuttingDown = false
        /// After a "busy" child (the previous owner of the run still exiting), wait a moment.
        var notBefore: Double = 0
        /// systemd set WatchdogSec (WATCHDOG_USEC): every tick of a live loop pings it.
        let watchdogEnabled: Bool
        var config: ServiceConfig { daemon.config }
        var logger: Logger { daemon.logger }

        init(daemon: Daemon, store: RunStore, notifier: SystemdNotifier, post: AsyncStream<Event>.Continuation) {
            self.daemon = daemon; self.store = store; self.notifier = notifier; self.post = post
            watchdogEnabled = notifier.watchdogInterval != nil
            intake = JobIntake(store: store, outbox: daemon.config.outbox, settleSeconds: daemon.config.settleSeconds,
                               logger: daemon.logger)
            intake.maxContentBytes = Int64(daemon.config.limits.maxImageBytes)
            scanner = InboxScanner(inbox: daemon.config.inbox)
        }

        var now: Double {
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }

        /// Runs that were running when the daemon died are resumed before anything else.
        mutating func recoverInterruptedRuns() {
            // Leftovers of a publish cut short by a kill: finished runs need no staging any more.
            for record in store.all where record.state.isFinished {
                let staging = OutboxLayout(outbox: config.outbox).stagingDirectory(job: record.job, run: record.runId)
                for leftover in [staging, staging + ".new", staging + ".old", staging + ".withdrawn"]
                where FileManager.default.fileExists(atPath: leftover) {
                    try? FileManager.default.removeItem(atPath: leftover)
                }
            }
            for var record in store.all where record.state == .running {
                logger.notice("resuming interrupted run \(record.runId)", metadata: ["job": "\(record.job)", "run": "\(record.runId)"])
                record.state = .paused
                try? store.save(record)
            }
        }

        mutating func handle(_ event: Event) -> Next {
            switch event {
            case .nudge(let kind):
                if kind == .overflow { logger.notice("inotify queue overflowed; rescanning the inbox") }
                scanRequested = true
            case .tick:
                if watchdogEnabled { notifier.watchdogPing() }
            case .jobEnded(let ending):
                finishCurrent(ending)
            case .shutdown:
                logger.info("shutting down")
                shuttingDown = true
                if let current {
                    current.process.requestStop()
                    logger.info("asked job \(current.record.job) to checkpoint", metadata: ["job": "\(current.record.job)"])
                }
            }
            if shuttingDown { return current == nil ? .exit : .carryOn }

            // Every scan is a full scan. Events come in bursts (a copy of 500 photos is thousands
            // of them), so nudges are coalesced: at most one scan per half tick; a nudge left
            // waiting is served by the next tick.
            let t = now
            let wanted = scanRequested || intake.hasSettlingJobs
            if t - lastFullScan >= config.rescanSeconds || (wanted && t - lastFullScan >= daemon.tickInterval / 2) {
                scanRequested = false
                lastFullScan = t
                _ = intake.process(scanner.scan(), now: t)
            }
            let mayRun = daemon.options.schedule?(Date()) ?? config.jobsMayRun()
            if !mayRun, let current, !pausing {
                pausing = true
                logger.notice("outside quiet hours: pausing \(current.record.job) at a checkpoint", metadata: ["job": "\(current.record.job)"])
                current.process.requestStop()
            }
            if mayRun && current == nil && t >= notBefore, let next = store.pending.first {
                startJob(next)
            }
            if daemon.options.once && current == nil && !intake.hasSettlingJobs
                && (store.pending.isEmpty || !mayRun) {
                logger.info("--once: nothing left to do")
                return .exit
            }
            return .carryOn
        }

        mutating func startJob(_ pending: RunRecord) {
            var record = pending
            let jobDirectory = config.inbox + "/" + record.job
            if record.state == .queued && !FileManager.default.fileExists(atPath: jobDirectory + "/" + InboxScanner.recipeFileName) {
                // Taken back before its turn: nothing to run, nothing to say in the outbox.
                record.state = .superseded
                record.finishedAt = Date()
                try? store.save(record)
                try? RunPublisher(outbox: config.outbox, job: record.job, run: record.runId).withdraw()
                logger.info("run \(record.runId) dropped: the job folder was removed before it started", metadata: ["job": "\(record.job)"])
                return
            }
            record.state = .running
            record.attempts += 1
            record.startedAt = record.startedAt ?? Date()
            let process = JobProcess(executable: daemon.options.executable, configPath: daemon.options.configPath,
                                     job: record.job, runId: record.runId, jobDirectory: jobDirectory)
            do {
                try store.save(record)
                let post = self.post
                try process.start { post.yield(.jobEnded($0)) }
                current = (record, process)
                pausing = false
                notifier.status("running \(record.job) (run \(record.runId))")
                logger.info("started run \(record.runId) (attempt \(record.attempts), pid \(process.pid))",
                            metadata: ["job": "\(record.job)", "run": "\(record.runId)"])
            } catch {
                record.state = .failed
                record.error = "could not start the job process: \(error)"
                try? store.save(record)
                logger.error("\(record.error!)", metadata: ["job": "\(record.job)"])
            }
        }

        mutating func finishCurrent(_ ending: JobProcess.Ending) {
            guard var record = current?.record else { return }
            current = nil
            let metadata: Logger.Metadata = ["job": "\(record.job)", "run": "\(record.runId)"]
            let publisher = RunPublisher(outbox: config.outbox, job: record.job, run: record.runId)
            switch ending {
            case .succeeded:
                record.state = .succeeded
                record.finishedAt = Date()
                logger.info("run succeeded", metadata: metadata)
            case .failed:
                record.state = .failed
                record.finishedAt = Date()
                record.error = JobStatus.read(runDirectory: publisher.liveDirectory)?.error ?? "the job failed"
                logger.warning("run failed: \(record.error!)", metadata: metadata)
            case .stopped:
                record.state = .paused
                logger.info("run paused at a checkpoint", metadata: metadata)
            case .busy:
                record.state = .paused
                notBefore = now + 1
                logger.notice("run still held by an earlier process; retrying", metadata: metadata)
            case .crashed(let reason):
                record.state = .failed
                record.finishedAt = Date()
                record.error = reason
                logger.error("job process crashed: \(reason)", metadata: metadata)
                var status = JobStatus.read(runDirectory: publisher.liveDirectory)
                    ?? JobStatus(job: record.job, run: record.runId, state: .failed, phase: "starting")
                status.state = .failed
                status.error = reason
                status.eta = nil
                status.updated = Date()
                do { try publisher.publishFailure(reason, status: status) } catch {
                    logger.error("cannot publish the failure: \(error)", metadata: metadata)
                }
            }
            do { try store.save(record) } catch { logger.error("cannot save run state: \(error)", metadata: metadata) }
            notifier.status(store.pending.isEmpty ? "idle" : "\(store.pending.count) job(s) waiting")
        }
    }
}
