import Foundation
import Logging
import Synchronization
import Testing
@testable import Service

/// Seconds per phase: kept by the runner in the run's checkpoint across restarts, shown in the
/// report; and the outbox index links each run's report.
@Suite(.serialized) struct ReportTimingTests {
    /// This suite's own stop flag: suites run in parallel, and JobRunnerTests has its own.
    static let stopFlag = Atomic<Bool>(false)

    /// Sleeps at least `milliseconds` (a lower bound on its time, never an upper one), then
    /// optionally asks the run to stop.
    struct SleepingPhase: JobPhase {
        let name: String
        var skipWhenCompleted = true
        let milliseconds: Int
        var stop = false
        func run(_ context: JobContext) throws {
            usleep(useconds_t(milliseconds * 1000))
            if stop { ReportTimingTests.stopFlag.store(true, ordering: .relaxed) }
            try context.checkStop()
        }
    }

    let dirs = (inbox: TemporaryDirectory(), outbox: TemporaryDirectory(), state: TemporaryDirectory())

    func runner(_ phases: [any JobPhase]) -> JobRunner {
        dirs.inbox.write("alice/recipe.yaml", "method: lora\n")
        let config = ServiceConfig(inbox: dirs.inbox.path, outbox: dirs.outbox.path, stateDirectory: dirs.state.path)
        var runner = JobRunner(config: config, job: "alice", runId: "r1", jobDirectory: dirs.inbox.path + "/alice",
                               phases: phases, logger: Logger(label: "test"))
        runner.shouldStop = { ReportTimingTests.stopFlag.load(ordering: .relaxed) }
        return runner
    }

    var checkpoint: RunCheckpoint {
        RunCheckpoint.load(from: RunCheckpoint.path(stateDirectory: dirs.state.path, job: "alice", run: "r1"))
    }

    @Test func secondsPerPhaseAddUpAcrossRestarts() throws {
        ReportTimingTests.stopFlag.store(false, ordering: .relaxed)
        #expect(try runner([SleepingPhase(name: "validate", skipWhenCompleted: false, milliseconds: 1),
                            SleepingPhase(name: "preflight", milliseconds: 1),
                            SleepingPhase(name: "training", milliseconds: 60, stop: true)]).run() == .stopped)
        let first = checkpoint.phaseSeconds
        #expect(Set(first.keys) == ["validate", "preflight", "training"])
        #expect(first["training"]! >= 0.06)

        ReportTimingTests.stopFlag.store(false, ordering: .relaxed)
        #expect(try runner([SleepingPhase(name: "validate", skipWhenCompleted: false, milliseconds: 1),
                            SleepingPhase(name: "preflight", milliseconds: 1),
                            SleepingPhase(name: "training", milliseconds: 60),
                            ReportPhase()]).run() == .succeeded)
        let second = checkpoint.phaseSeconds
        #expect(second["training"]! >= first["training"]! + 0.06)     // both starts counted
        #expect(second["preflight"] == first["preflight"])             // finished: not rerun
        #expect(second["validate"]! > first["validate"]!)              // cheap: reruns, adds up

        // The published report carries them, and the outbox index links it.
        let report = try AtomicFile.readJSON(RunReport.self, from: dirs.outbox.path + "/alice/r1/report.json")
        #expect(report.phases.map(\.name) == ["validate", "preflight", "training"])
        #expect(report.phases.first { $0.name == "training" }?.seconds == second["training"])
        #expect(dirs.outbox.exists("alice/r1/report.html"))
        OutboxIndex.refresh(outbox: dirs.outbox.path)
        let index = try String(contentsOfFile: dirs.outbox.path + "/index.html", encoding: .utf8)
        #expect(index.contains("href=\"alice/r1/report.html\""))
    }

    @Test func failedPhaseTimeIsKept() throws {
        ReportTimingTests.stopFlag.store(false, ordering: .relaxed)
        struct Failing: JobPhase {
            let name = "training"
            let skipWhenCompleted = true
            func run(_ context: JobContext) throws { usleep(20_000); throw JobFailure("no") }
        }
        #expect(try runner([Failing()]).run() == .failed("no"))
        #expect(checkpoint.phaseSeconds["training"]! >= 0.02)
    }

    /// A process killed in the middle of training never recorded its time; the next start
    /// counts it up to the phase's last checkpoint save (the file's modification time).
    @Test func killedPhaseTimeCountsUpToItsLastSave() throws {
        ReportTimingTests.stopFlag.store(false, ordering: .relaxed)
        let path = RunCheckpoint.path(stateDirectory: dirs.state.path, job: "alice", run: "r1")
        var killed = RunCheckpoint()
        killed.completedPhases = ["preflight"]
        killed.currentPhase = "training"
        killed.step = 40
        killed.phaseSeconds = ["preflight": 5, "training": 1000]
        let now = Date()
        killed.currentPhaseStarted = now.addingTimeInterval(-100)
        try killed.save(to: path)
        try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-40)], ofItemAtPath: path)

        #expect(try runner([SleepingPhase(name: "preflight", milliseconds: 1), SleepingPhase(name: "training", milliseconds: 1)]).run() == .succeeded)
        let training = try #require(checkpoint.phaseSeconds["training"])
        // 1000 before, 60 until the last save (not the 100 until the restart), and this start's own.
        #expect(training >= 1060 && training < 1100)
        #expect(checkpoint.phaseSeconds["preflight"] == 5)
        #expect(checkpoint.currentPhaseStarted == nil)
    }

    @Test func checkpointFromBeforeTimingsStillResumes() throws {
        let old = #"{"completedPhases":["preflight"],"currentPhase":"training","step":40,"values":{"file":"ckpt-40"}}"#
        let path = dirs.state.write("old.json", old)
        let loaded = RunCheckpoint.load(from: path)
        #expect(loaded.completedPhases == ["preflight"])
        #expect(loaded.currentPhase == "training" && loaded.step == 40)
        #expect(loaded.values == ["file": "ckpt-40"])
        #expect(loaded.phaseSeconds.isEmpty)
    }

    @Test func indexHasNoReportLinkWithoutAReport() throws {
        dirs.outbox.write("bob/r2/status.json", "{}")
        dirs.outbox.write("bob/r2/log.txt", "log")
        #expect(!OutboxIndex.html(outbox: dirs.outbox.path).contains("report.html"))
        dirs.outbox.write("bob/r2/report.html", "<html>")
        #expect(OutboxIndex.html(outbox: dirs.outbox.path).contains("href=\"bob/r2/report.html\""))
    }
}
