import Foundation
import Testing
@testable import Service

@Suite struct StatusTests {
    @Test func progressBarAndDurations() {
        #expect(ProgressBar.render(step: 5, total: 10, width: 10) == "[#####-----]  50%")
        #expect(ProgressBar.render(step: 0, total: 0, width: 4) == "[----]")
        #expect(ProgressBar.duration(3725) == "1h 02m")
        #expect(ProgressBar.duration(250) == "4m 10s")
    }

    @Test func etaFollowsThePaceSinceThePhaseStarted() {
        var estimator = ProgressEstimator()
        let start = Date(timeIntervalSince1970: 0)
        #expect(estimator.eta(step: 10, total: 110, now: start) == nil)
        let eta = estimator.eta(step: 20, total: 110, now: start.addingTimeInterval(5))   // 2 steps/s
        #expect(eta == start.addingTimeInterval(5 + 45))
    }

    @Test func overviewShowsRunningQueueAndResults() throws {
        let state = TemporaryDirectory(), outbox = TemporaryDirectory()
        let config = ServiceConfig(inbox: "/srv/inbox", outbox: outbox.path, stateDirectory: state.path)
        let store = try RunStore(stateDirectory: state.path)
        try store.save(RunRecord(job: "alice", runId: "a1", fingerprint: "", stampKey: "", sequence: 1, state: .running))
        try store.save(RunRecord(job: "bob", runId: "b1", fingerprint: "", stampKey: "", sequence: 2))
        var failed = RunRecord(job: "carol", runId: "c1", fingerprint: "", stampKey: "", sequence: 0, state: .failed)
        failed.error = "recipe.yaml:4:3: train.steps: expected at most 20000\nmore"
        failed.finishedAt = Date()
        try store.save(failed)
        try RunPublisher(outbox: outbox.path, job: "alice", run: "a1")
            .open(JobStatus(job: "alice", run: "a1", state: .running, phase: "training", step: 250, total: 1000,
                            loss: 0.125, eta: Date().addingTimeInterval(600)))
        try Directories.create(state.path)
        var daemonLock: RunLock? = try #require(try RunLock.acquire(path: Daemon.lockPath(config), timeout: 0))
        #expect(daemonLock != nil)
        let text = try StatusOverview(config: config).render()
        #expect(text.contains("service: running"))
        #expect(text.contains("alice  run a1  training  [######------------------]  25%  step 250/1000  loss 0.1250  ETA"))
        #expect(text.contains("1. bob  run b1  queued"))
        #expect(text.contains("FAILED  carol"))
        #expect(text.contains("train.steps: expected at most 20000"))
        #expect(!text.contains("more"))
        daemonLock = nil                                              // the daemon stops
        let withoutDaemon = try StatusOverview(config: config).render()
        #expect(withoutDaemon.contains("service: not running"))
        #expect(withoutDaemon.contains("alice  run a1  (interrupted; resumes on start)"))
    }

    @Test func quietHoursWindowDecidesWhetherJobsRun() {
        var config = ServiceConfig(inbox: "", outbox: "", stateDirectory: "")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let at23 = Date(timeIntervalSince1970: 23 * 3600), at12 = Date(timeIntervalSince1970: 12 * 3600)
        #expect(config.jobsMayRun(at: at12, calendar: calendar))
        config.quietHours = .init(startMinute: 22 * 60, endMinute: 7 * 60)
        #expect(config.jobsMayRun(at: at23, calendar: calendar))
        #expect(!config.jobsMayRun(at: at12, calendar: calendar))
    }

    @Test func journalFieldNames() {
        #expect(JournalLogHandler.fieldName("job") == "JOB_ID")
        #expect(JournalLogHandler.fieldName("run") == "RUN_ID")
        #expect(JournalLogHandler.fieldName("step-count") == "DROPBOOTH_STEP_COUNT")
    }
}
