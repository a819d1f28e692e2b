/// One phase of a job: validate the recipe, preflight the images, train, sample, ... The runner
/// runs them in order, records each one finished in the run's checkpoint, and after a restart
/// skips the finished ones whose results are already on disk. Training plugs in as a phase.
public protocol JobPhase: Sendable {
    /// Shown in status.json, `dropbooth status` and the logs.
    var name: String { get }
    /// True for phases whose results are files in the work folder: a resumed run does not
    /// repeat them. Cheap phases that only produce values for later phases say false.
    var skipWhenCompleted: Bool { get }
    /// Does the work. Throw `JobFailure` for problems the job's owner must fix (said in plain
    /// words), `JobStopped` (via `context.checkStop()`) to stop at a checkpoint.
    func run(_ context: JobContext) throws
    /// Removes what the phase kept to continue after a restart (the training checkpoint). The
    /// runner calls it only after the phase is recorded as done in the run's checkpoint, and
    /// again for a done phase it skips on resume: a kill between `run` returning and the record
    /// would otherwise find the resume state gone and redo the phase from its start. Must be
    /// idempotent (it may run more than once). Default: nothing to remove.
    func discardResumeState(_ context: JobContext) throws
}

extension JobPhase {
    public func discardResumeState(_ context: JobContext) throws {}
}

/// A problem with the job itself: the text goes to the outbox's error.txt as it is, so it says
/// which file or field, what was expected, and what to do.
public struct JobFailure: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The job stopped at a checkpoint because it was asked to (shutdown, quiet hours).
public struct JobStopped: Error {}
