import Foundation
import Logging

/// What a phase gets: the job's inputs (read-only), the work folder for its artefacts, the
/// checkpoint, progress reporting, and a way to hand values to later phases.
public final class JobContext: @unchecked Sendable {
    public let job: String
    public let runId: String
    /// The job folder in the inbox. Never written.
    public let jobDirectory: String
    public let config: ServiceConfig
    /// Artefacts go here; the whole folder is published when the run ends.
    public let workDirectory: String
    public let logger: Logger
    public internal(set) var checkpoint: RunCheckpoint
    /// Results of earlier phases for later ones (the validated recipe, the preflight report).
    /// Not persisted: phases that produce them say `skipWhenCompleted == false`.
    public var values: [String: any Sendable] = [:]

    private let checkpointPath: String
    private let onProgress: @Sendable (_ step: Int, _ total: Int, _ loss: Double?) -> Void
    private let shouldStop: @Sendable () -> Bool

    init(job: String, runId: String, jobDirectory: String, config: ServiceConfig, workDirectory: String,
         logger: Logger, checkpoint: RunCheckpoint, checkpointPath: String,
         onProgress: @escaping @Sendable (Int, Int, Double?) -> Void, shouldStop: @escaping @Sendable () -> Bool) {
        self.job = job; self.runId = runId; self.jobDirectory = jobDirectory; self.config = config
        self.workDirectory = workDirectory; self.logger = logger; self.checkpoint = checkpoint
        self.checkpointPath = checkpointPath; self.onProgress = onProgress; self.shouldStop = shouldStop
    }

    /// Reports progress within the current phase (status.json, ETA, systemd STATUS=).
    public func progress(step: Int, total: Int, loss: Double? = nil) { onProgress(step, total, loss) }

    /// Records where the phase is, so that a restart continues from here.
    public func saveCheckpoint(step: Int, values: [String: String] = [:]) throws {
        checkpoint.step = step
        checkpoint.values.merge(values) { _, new in new }
        try checkpoint.save(to: checkpointPath)
    }

    /// Call between units of work: throws `JobStopped` when the run must stop. Save a
    /// checkpoint first if the work since the last one is worth keeping.
    public func checkStop() throws {
        if shouldStop() { throw JobStopped() }
    }
}
