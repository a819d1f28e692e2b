import Foundation
import Logging
import Synchronization
import Testing
@testable import Service

/// A phase that counts its runs and can fail or stop, standing in for real work.
struct FakePhase: JobPhase {
    let name: String
    var skipWhenCompleted = true
    var artefact: String?
    var failure: String?
    var stopAtStep: Int?
    let runs: Counter

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        /// The step the latest run started from.
        let startStep = Atomic<Int>(-1)
        var count: Int { value.load(ordering: .relaxed) }
    }

    func run(_ context: JobContext) throws {
        runs.value.add(1, ordering: .relaxed)
        if let artefact { try AtomicFile.write(Data("made by \(name)".utf8), to: context.workDirectory + "/" + artefact) }
        if let failure { throw JobFailure(failure) }
        guard skipWhenCompleted else { return }
        runs.startStep.store(context.checkpoint.step, ordering: .relaxed)
        for step in context.checkpoint.step..<4 {
            if step == stopAtStep { StopRequestForTest.stop.store(true, ordering: .relaxed) }
            try context.checkStop()
            try context.saveCheckpoint(step: step + 1)
            context.progress(step: step + 1, total: 4)
        }
    }
}

enum StopRequestForTest {
    static let stop = Atomic<Bool>(false)
}

@Suite(.serialized) struct JobRunnerTests {
    let dirs = (inbox: TemporaryDirectory(), outbox: TemporaryDirectory(), state: TemporaryDirectory())

    func runner(_ phases: [any JobPhase], stopFlag: Bool = false) -> JobRunner {
        dirs.inbox.write("alice/recipe.yaml", "method: lora\n")
        let config = ServiceConfig(inbox: dirs.inbox.path, outbox: dirs.outbox.path, stateDirectory: dirs.state.path)
        var runner = JobRunner(config: config, job: "alice", runId: "r1", jobDirectory: dirs.inbox.path + "/alice",
                               phases: phases, logger: Logger(label: "test"))
        runner.shouldStop = { StopRequestForTest.stop.load(ordering: .relaxed) }
        return runner
    }

    @Test func successPublishesArtefactsAndTheRecipeAsRun() throws {
        StopRequestForTest.stop.store(false, ordering: .relaxed)
        let counter = FakePhase.Counter()
        let outcome = try runner([FakePhase(name: "one", artefact: "sheet.jpg", runs: counter)]).run()
        #expect(outcome == .succeeded)
        #expect(dirs.outbox.list("alice/r1") == ["recipe.yaml", "sheet.jpg", "status.json"])
        #expect(JobStatus.read(runDirectory: dirs.outbox.path + "/alice/r1")?.state == .succeeded)
    }

    @Test func failureWritesErrorTextAndStopsLaterPhases() throws {
        StopRequestForTest.stop.store(false, ordering: .relaxed)
        let first = FakePhase.Counter(), second = FakePhase.Counter()
        let outcome = try runner([FakePhase(name: "validate", failure: "recipe.yaml:2:1: method: unknown", runs: first),
                                  FakePhase(name: "train", runs: second)]).run()
        #expect(outcome == .failed("recipe.yaml:2:1: method: unknown"))
        #expect(second.count == 0)
        let text = try String(contentsOfFile: dirs.outbox.path + "/alice/r1/error.txt", encoding: .utf8)
        #expect(text.contains("recipe.yaml:2:1: method: unknown"))
    }

    @Test func stoppedRunResumesWhereItWasAndSkipsFinishedPhases() throws {
        let validate = FakePhase.Counter(), preflight = FakePhase.Counter(), training = FakePhase.Counter()
        // A cheap phase that reruns on resume must not reset the interrupted phase's step.
        let phases: [any JobPhase] = [FakePhase(name: "validate", skipWhenCompleted: false, runs: validate),
                                      FakePhase(name: "preflight", artefact: "sheet.jpg", runs: preflight),
                                      FakePhase(name: "training", stopAtStep: 2, runs: training)]
        StopRequestForTest.stop.store(false, ordering: .relaxed)
        #expect(try runner(phases).run() == .stopped)
        #expect(JobStatus.read(runDirectory: dirs.outbox.path + "/alice/r1")?.state == .paused)
        #expect(dirs.outbox.list("alice/r1") == ["status.json"])        // nothing published early
        let checkpoint = RunCheckpoint.load(from: RunCheckpoint.path(stateDirectory: dirs.state.path, job: "alice", run: "r1"))
        #expect(checkpoint.completedPhases == ["preflight"])
        #expect(checkpoint.currentPhase == "training" && checkpoint.step == 2)

        StopRequestForTest.stop.store(false, ordering: .relaxed)
        let resumed: [any JobPhase] = [FakePhase(name: "validate", skipWhenCompleted: false, runs: validate),
                                       FakePhase(name: "preflight", artefact: "sheet.jpg", runs: preflight),
                                       FakePhase(name: "training", runs: training)]
        #expect(try runner(resumed).run() == .succeeded)
        #expect(validate.count == 2)                                   // cheap: always rerun
        #expect(preflight.count == 1)                                  // not repeated
        #expect(training.count == 2)
        #expect(training.startStep.load(ordering: .relaxed) == 2)     // continued from step 2
        #expect(dirs.outbox.list("alice/r1").contains("sheet.jpg"))
    }
}

/// A phase with resume state: a file in the state folder, written by `run` and removed by
/// `discardResumeState`, which notes whether the run's checkpoint on disk already listed the
/// phase as done when it was called.
struct ResumableFakePhase: JobPhase {
    let name = "training"
    let skipWhenCompleted = true
    let runs: FakePhase.Counter
    /// Incremented per discard call that saw the phase recorded as done on disk; and per call.
    let discardsAfterRecord: FakePhase.Counter
    let discards: FakePhase.Counter

    static func statePath(_ context: JobContext) -> String {
        "\(context.config.stateDirectory)/training/\(context.job)/\(context.runId)/checkpoint.bin"
    }

    func run(_ context: JobContext) throws {
        runs.value.add(1, ordering: .relaxed)
        runs.startStep.store(context.checkpoint.step, ordering: .relaxed)
        try Directories.create((Self.statePath(context) as NSString).deletingLastPathComponent)
        try AtomicFile.write(Data("step 4".utf8), to: Self.statePath(context))
        try context.saveCheckpoint(step: 4)
    }

    func discardResumeState(_ context: JobContext) throws {
        discards.value.add(1, ordering: .relaxed)
        let onDisk = RunCheckpoint.load(from: RunCheckpoint.path(stateDirectory: context.config.stateDirectory,
                                                                 job: context.job, run: context.runId))
        if onDisk.completedPhases.contains(name) { discardsAfterRecord.value.add(1, ordering: .relaxed) }
        try? FileManager.default.removeItem(atPath: Self.statePath(context))
    }
}

@Suite(.serialized) struct ResumeStateOrderTests {
    let dirs = (inbox: TemporaryDirectory(), outbox: TemporaryDirectory(), state: TemporaryDirectory())
    let runs = FakePhase.Counter(), afterRecord = FakePhase.Counter(), discards = FakePhase.Counter()

    func runner() -> JobRunner {
        dirs.inbox.write("alice/recipe.yaml", "method: lora\n")
        let config = ServiceConfig(inbox: dirs.inbox.path, outbox: dirs.outbox.path, stateDirectory: dirs.state.path)
        return JobRunner(config: config, job: "alice", runId: "r1", jobDirectory: dirs.inbox.path + "/alice",
                         phases: [ResumableFakePhase(runs: runs, discardsAfterRecord: afterRecord, discards: discards)],
                         logger: Logger(label: "test"))
    }

    @Test func resumeStateIsDiscardedOnlyAfterThePhaseIsRecordedDone() throws {
        #expect(try runner().run() == .succeeded)
        #expect(runs.count == 1 && discards.count == 1)
        #expect(afterRecord.count == 1, "the resume state was discarded before the phase was recorded as done")
        #expect(!dirs.state.exists("training/alice/r1/checkpoint.bin"))
    }

    /// Killed after the record, before the cleanup: the resumed runner must not redo the phase,
    /// and removes the state the killed process left.
    @Test func killBetweenRecordAndDiscardIsCleanedUpWithoutRedoingThePhase() throws {
        dirs.state.write("training/alice/r1/checkpoint.bin", "step 4")
        var killed = RunCheckpoint()
        killed.completedPhases = ["training"]
        killed.started = Date()
        try killed.save(to: RunCheckpoint.path(stateDirectory: dirs.state.path, job: "alice", run: "r1"))

        #expect(try runner().run() == .succeeded)
        #expect(runs.count == 0, "a phase recorded as done ran again")
        #expect(discards.count == 1)
        #expect(!dirs.state.exists("training/alice/r1/checkpoint.bin"))
    }

    /// Killed after the phase finished, before the record: its resume state is still there, so
    /// the rerun continues from it (the phase sees its saved step) rather than from zero.
    @Test func killBeforeTheRecordKeepsTheResumeState() throws {
        dirs.state.write("training/alice/r1/checkpoint.bin", "step 4")
        var killed = RunCheckpoint()
        killed.currentPhase = "training"
        killed.step = 4
        killed.started = Date()
        try killed.save(to: RunCheckpoint.path(stateDirectory: dirs.state.path, job: "alice", run: "r1"))

        #expect(try runner().run() == .succeeded)
        #expect(runs.count == 1 && runs.startStep.load(ordering: .relaxed) == 4)
        #expect(afterRecord.count == 1)
        #expect(!dirs.state.exists("training/alice/r1/checkpoint.bin"))
    }
}

@Suite struct PublishedRunTests {
    /// A run an orphaned process already published is not run again, nor its results replaced.
    @Test func publishedRunIsNeverRunTwice() throws {
        let inbox = TemporaryDirectory(), outbox = TemporaryDirectory(), state = TemporaryDirectory()
        inbox.write("alice/recipe.yaml", "method: lora\n")
        let config = ServiceConfig(inbox: inbox.path, outbox: outbox.path, stateDirectory: state.path)
        let counter = FakePhase.Counter()
        func runner() -> JobRunner {
            var runner = JobRunner(config: config, job: "alice", runId: "r1", jobDirectory: inbox.path + "/alice",
                                   phases: [FakePhase(name: "work", artefact: "result.bin", runs: counter)],
                                   logger: .init(label: "test"))
            runner.shouldStop = { false }
            return runner
        }
        #expect(try runner().run() == .succeeded)
        #expect(try runner().run() == .succeeded)
        #expect(counter.count == 1)
        #expect(outbox.list("alice/r1").contains("result.bin"))
    }
}
