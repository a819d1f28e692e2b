import Foundation
import Logging

/// Turns what a scan of the inbox saw into queued runs: readiness first (recipe present, quiet
/// for the settle time), then the fingerprint. A folder whose fingerprint already has a run is
/// never queued again, so an unchanged folder runs once, across restarts too.
public struct JobIntake {
    public let store: RunStore
    public let outbox: String
    public var logger: Logger
    /// Larger files are fingerprinted by name, size and time only (see `Fingerprint.of`).
    public var maxContentBytes: Int64 = Int64(ServiceConfig.Limits().maxImageBytes)
    private var tracker: ReadinessTracker
    /// job → the stamp key (names, sizes, times) already turned into a run or found known.
    private var handled: [String: String] = [:]
    private var refusedSeen: Set<String> = []

    public init(store: RunStore, outbox: String, settleSeconds: Double, logger: Logger) {
        self.store = store; self.outbox = outbox; self.logger = logger
        tracker = ReadinessTracker(settleSeconds: settleSeconds)
    }

    /// Jobs with a recipe that are not yet settled or not yet handled: the daemon keeps looking.
    public var hasSettlingJobs: Bool {
        tracker.settling.contains { handled[$0] == nil }
    }

    /// Returns the runs queued by this scan. `now`: seconds on a monotonic clock.
    public mutating func process(_ scan: InboxScan, now: Double) -> [RunRecord] {
        for refused in scan.refused where !refusedSeen.contains(refused.name) {
            refusedSeen.insert(refused.name)
            logger.warning("inbox entry refused: \(refused.reason)", metadata: ["job": "\(refused.name)"])
            publishRefusal(refused)
        }
        let ready = tracker.observe(scan.jobs, now: now)
        // Forget folders that changed or vanished, so that their next state is considered.
        let present = Dictionary(uniqueKeysWithValues: scan.jobs.map { ($0.name, $0) })
        for (job, key) in handled where present[job].map(Fingerprint.stampKey(of:)) != key { handled[job] = nil }

        var queued: [RunRecord] = []
        for snapshot in ready {
            let stampKey = Fingerprint.stampKey(of: snapshot)
            if handled[snapshot.name] == stampKey { continue }
            if store.runs(of: snapshot.name).contains(where: { $0.stampKey == stampKey }) {
                handled[snapshot.name] = stampKey
                continue
            }
            do {
                let fingerprint = try Fingerprint.of(job: snapshot, maxContentBytes: maxContentBytes)
                handled[snapshot.name] = stampKey
                if var known = store.record(job: snapshot.name, runId: fingerprint.runId) {
                    // Same content under new file times (copied again): remember, do not rerun.
                    known.stampKey = stampKey
                    try store.save(known)
                    continue
                }
                queued.append(try enqueue(snapshot, fingerprint: fingerprint, stampKey: stampKey))
            } catch {
                // A file vanished mid-read (the folder changed: its next state is considered) or
                // cannot be read (tried again when the folder changes, not on every scan).
                handled[snapshot.name] = stampKey
                logger.warning("cannot fingerprint job: \(error)", metadata: ["job": "\(snapshot.name)"])
            }
        }
        return queued
    }

    /// A symlinked job folder gets an answer in the outbox too (once), when its name can be a
    /// folder there; names that cannot (control characters, "..") are only logged.
    private func publishRefusal(_ refused: RefusedFolder) {
        let runId = "refused"
        guard JobName.problem(with: refused.name) == nil, store.record(job: refused.name, runId: runId) == nil else { return }
        var record = RunRecord(job: refused.name, runId: runId, fingerprint: "", stampKey: "", sequence: store.nextSequence,
                               state: .failed)
        record.error = refused.reason
        record.finishedAt = Date()
        let publisher = RunPublisher(outbox: outbox, job: refused.name, run: runId)
        do {
            try store.save(record)
            try publisher.publishFailure(refused.reason + "\nNothing in it was read.",
                                         status: JobStatus(job: refused.name, run: runId, state: .failed, phase: "intake",
                                                           error: refused.reason))
        } catch {
            logger.error("cannot publish the refusal: \(error)", metadata: ["job": "\(refused.name)"])
        }
    }

    private func enqueue(_ snapshot: JobSnapshot, fingerprint: Fingerprint, stampKey: String) throws -> RunRecord {
        // Runs of the same job still waiting would work on files that are no longer there.
        for var older in store.runs(of: snapshot.name) where older.state == .queued {
            older.state = .superseded
            older.finishedAt = Date()
            try store.save(older)
            try? RunPublisher(outbox: outbox, job: older.job, run: older.runId).withdraw()
            logger.info("run \(older.runId) superseded: the folder changed before it started", metadata: ["job": "\(older.job)"])
        }
        let record = RunRecord(job: snapshot.name, runId: fingerprint.runId, fingerprint: fingerprint.hex,
                               stampKey: stampKey, sequence: store.nextSequence)
        try store.save(record)
        let publisher = RunPublisher(outbox: outbox, job: record.job, run: record.runId)
        try? publisher.open(JobStatus(job: record.job, run: record.runId, state: .queued, phase: "queued"))
        logger.info("queued run \(record.runId) (\(snapshot.files.count) files)", metadata: ["job": "\(record.job)", "run": "\(record.runId)"])
        return record
    }
}
