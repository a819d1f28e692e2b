import Foundation

/// `outbox/<job>/<run>/status.json`: what anyone browsing the share, `dropbooth status` and
/// scripts read about a run. Replaced atomically on every change.
public struct JobStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case queued, running, paused, succeeded, failed
    }
    public var job: String
    public var run: String
    public var state: State
    /// The phase working now ("validate", "preflight", "training", ...) or the last one reached.
    public var phase: String
    public var step: Int
    public var total: Int
    public var loss: Double?
    public var started: Date?
    public var updated: Date
    public var eta: Date?
    public var error: String?

    public init(job: String, run: String, state: State, phase: String, step: Int = 0, total: Int = 0,
                loss: Double? = nil, started: Date? = nil, updated: Date = Date(), eta: Date? = nil,
                error: String? = nil) {
        self.job = job; self.run = run; self.state = state; self.phase = phase; self.step = step
        self.total = total; self.loss = loss; self.started = started; self.updated = updated
        self.eta = eta; self.error = error
    }

    public static let fileName = "status.json"

    public static func read(runDirectory: String) -> JobStatus? {
        try? AtomicFile.readJSON(JobStatus.self, from: runDirectory + "/" + fileName)
    }
}
