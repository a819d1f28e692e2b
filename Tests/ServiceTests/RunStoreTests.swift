import Foundation
import Testing
@testable import Service

@Suite struct RunStoreTests {
    @Test func stateSurvivesARestart() throws {
        let state = TemporaryDirectory()
        let store = try RunStore(stateDirectory: state.path)
        var record = RunRecord(job: "alice", runId: "aaaa", fingerprint: "f", stampKey: "s", sequence: store.nextSequence)
        try store.save(record)
        record.state = .running
        record.attempts = 1
        try store.save(record)
        try store.save(RunRecord(job: "bob", runId: "bbbb", fingerprint: "g", stampKey: "t", sequence: store.nextSequence))

        let reopened = try RunStore(stateDirectory: state.path)     // a new daemon process
        #expect(reopened.all.count == 2)
        #expect(reopened.record(job: "alice", runId: "aaaa")?.state == .running)
        #expect(reopened.record(job: "alice", runId: "aaaa")?.attempts == 1)
        #expect(reopened.nextSequence == 3)
    }

    @Test func startedRunsComeFirstThenArrivalOrder() throws {
        let state = TemporaryDirectory()
        let store = try RunStore(stateDirectory: state.path)
        try store.save(RunRecord(job: "first", runId: "1", fingerprint: "", stampKey: "", sequence: 1))
        try store.save(RunRecord(job: "second", runId: "2", fingerprint: "", stampKey: "", sequence: 2, state: .paused))
        try store.save(RunRecord(job: "third", runId: "3", fingerprint: "", stampKey: "", sequence: 3))
        try store.save(RunRecord(job: "done", runId: "4", fingerprint: "", stampKey: "", sequence: 0, state: .succeeded))
        #expect(store.pending.map(\.job) == ["second", "first", "third"])
    }

    @Test func checkpointRoundTrips() throws {
        let state = TemporaryDirectory()
        let path = RunCheckpoint.path(stateDirectory: state.path, job: "alice", run: "r")
        var checkpoint = RunCheckpoint()
        checkpoint.completedPhases = ["validate", "preflight"]
        checkpoint.currentPhase = "training"
        checkpoint.step = 120
        try checkpoint.save(to: path)
        #expect(RunCheckpoint.load(from: path) == checkpoint)
    }
}
