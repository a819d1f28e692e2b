/// Where a run's results live. The staging area is inside the outbox so that it is on the same
/// filesystem: publishing is then a rename, which is atomic, never a copy.
public struct OutboxLayout: Sendable {
    public let outbox: String

    public init(outbox: String) { self.outbox = outbox }

    public var stagingRoot: String { outbox + "/.staging" }
    public var indexPath: String { outbox + "/index.html" }

    public func jobDirectory(_ job: String) -> String { outbox + "/" + job }
    /// What people see: `outbox/<job>/<run>/`.
    public func runDirectory(job: String, run: String) -> String { outbox + "/" + job + "/" + run }
    /// Where the run's artefacts are made, and kept across restarts, until they are published.
    public func stagingDirectory(job: String, run: String) -> String { stagingRoot + "/" + job + "/" + run }
}
