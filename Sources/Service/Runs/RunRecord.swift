import Foundation

/// Where a run stands, as the daemon keeps it in the state directory.
public enum RunState: String, Codable, Sendable {
    case queued        // ready, waiting its turn
    case running       // a child process works on it (if the daemon died, it resumes on start)
    case paused        // stopped outside quiet hours or by shutdown; resumes first
    case succeeded
    case failed
    case superseded    // the folder changed before this run started; a newer run replaces it

    public var isFinished: Bool { self == .succeeded || self == .failed || self == .superseded }
}

/// One run of one job: the unit the queue orders and the state directory remembers.
public struct RunRecord: Codable, Sendable, Equatable {
    public var job: String
    public var runId: String
    public var fingerprint: String
    /// The folder's names/sizes/times when it was fingerprinted (see `Fingerprint.stampKey`).
    public var stampKey: String
    /// Arrival order: a counter that only grows, so that clock changes cannot reorder the queue.
    public var sequence: Int
    public var state: RunState
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// How many times a child process was started for it.
    public var attempts: Int = 0
    /// For failed runs: the plain-words reason (also in the outbox's error.txt).
    public var error: String?

    public init(job: String, runId: String, fingerprint: String, stampKey: String, sequence: Int,
                state: RunState = .queued, queuedAt: Date = Date()) {
        self.job = job; self.runId = runId; self.fingerprint = fingerprint; self.stampKey = stampKey
        self.sequence = sequence; self.state = state; self.queuedAt = queuedAt
    }
}
