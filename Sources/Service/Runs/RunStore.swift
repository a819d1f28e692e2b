import Foundation

/// The runs the daemon knows about, one JSON file each under `<state>/runs/<job>/<run>.json`,
/// every change written atomically, so a kill at any moment leaves a consistent state to
/// resume from.
public final class RunStore: @unchecked Sendable {
    public let directory: String
    private var records: [String: RunRecord] = [:]   // "<job>/<run>"
    private let lock = NSLock()

    /// `create: false` for readers (`dropbooth status`): a missing state directory is an empty one.
    public init(stateDirectory: String, create: Bool = true) throws {
        directory = stateDirectory + "/runs"
        if create { try Directories.create(directory) }
        for job in InboxScanner.list(directory) where JobName.problem(with: job) == nil {
            for file in InboxScanner.list(directory + "/" + job) where file.hasSuffix(".json") && !file.hasPrefix(".") {
                if let record = try? AtomicFile.readJSON(RunRecord.self, from: "\(directory)/\(job)/\(file)") {
                    records[Self.key(record.job, record.runId)] = record
                }
            }
        }
    }

    static func key(_ job: String, _ runId: String) -> String { job + "/" + runId }

    public var all: [RunRecord] {
        lock.withLock { Array(records.values) }.sorted { $0.sequence < $1.sequence }
    }

    public func record(job: String, runId: String) -> RunRecord? {
        lock.withLock { records[Self.key(job, runId)] }
    }

    public func runs(of job: String) -> [RunRecord] { all.filter { $0.job == job } }

    public var nextSequence: Int { (all.map(\.sequence).max() ?? 0) + 1 }

    public func save(_ record: RunRecord) throws {
        try Directories.create(directory + "/" + record.job)
        try AtomicFile.writeJSON(record, to: "\(directory)/\(record.job)/\(record.runId).json")
        lock.withLock { records[Self.key(record.job, record.runId)] = record }
    }

    public func update(job: String, runId: String, _ change: (inout RunRecord) -> Void) throws {
        guard var record = record(job: job, runId: runId) else { return }
        change(&record)
        try save(record)
    }

    /// Runs still to do, in the order they run: interrupted and paused runs first (they arrived
    /// earlier and have work on disk), then the queue in arrival order.
    public var pending: [RunRecord] {
        all.filter { !$0.state.isFinished }.sorted { a, b in
            let aStarted = a.state != .queued, bStarted = b.state != .queued
            if aStarted != bStarted { return aStarted }
            return a.sequence < b.sequence
        }
    }
}
