import Foundation
import Logging
import Testing
@testable import Service

@Suite struct JobIntakeTests {
    let inbox = TemporaryDirectory()
    let outbox = TemporaryDirectory()
    let state = TemporaryDirectory()

    func intake() throws -> JobIntake {
        JobIntake(store: try RunStore(stateDirectory: state.path), outbox: outbox.path, settleSeconds: 2,
                  logger: Logger(label: "test"))
    }

    /// No watcher runs here at all: a file written behind inotify's back (another machine on a
    /// share, an overflowed queue) is found by the periodic rescan, which is the same scan.
    @Test func rescanFindsJobsNoEventAnnounced() throws {
        var intake = try intake()
        let scanner = InboxScanner(inbox: inbox.path)
        #expect(intake.process(scanner.scan(), now: 0).isEmpty)
        inbox.write("alice/recipe.yaml", "method: lora\n")
        inbox.write("alice/a.jpg", "pixels")
        #expect(intake.process(scanner.scan(), now: 10).isEmpty)         // first seen: settling
        #expect(intake.hasSettlingJobs)
        let queued = intake.process(scanner.scan(), now: 12)
        #expect(queued.map(\.job) == ["alice"])
        #expect(!intake.hasSettlingJobs)
        #expect(JobStatus.read(runDirectory: outbox.path + "/alice/" + queued[0].runId)?.state == .queued)
    }

    @Test func unchangedFolderNeverRunsTwiceEvenAfterRestart() throws {
        inbox.write("alice/recipe.yaml", "method: lora\n")
        let scanner = InboxScanner(inbox: inbox.path)
        var first = try intake()
        _ = first.process(scanner.scan(), now: 0)
        #expect(first.process(scanner.scan(), now: 5).count == 1)
        #expect(first.process(scanner.scan(), now: 50).isEmpty)

        var restarted = try intake()                                     // new process, same state
        _ = restarted.process(scanner.scan(), now: 0)
        #expect(restarted.process(scanner.scan(), now: 5).isEmpty)

        // Copied again (new file times, same bytes): still the same run.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 5)], ofItemAtPath: inbox.path + "/alice/recipe.yaml")
        _ = restarted.process(scanner.scan(), now: 10)
        #expect(restarted.process(scanner.scan(), now: 15).isEmpty)
        #expect(try RunStore(stateDirectory: state.path).all.count == 1)
    }

    @Test func changedFolderMakesANewRunAndSupersedesTheWaitingOne() throws {
        inbox.write("alice/recipe.yaml", "method: lora\n")
        let scanner = InboxScanner(inbox: inbox.path)
        var intake = try intake()
        _ = intake.process(scanner.scan(), now: 0)
        let old = try #require(intake.process(scanner.scan(), now: 5).first)
        inbox.write("alice/recipe.yaml", "method: dreambooth\n")
        _ = intake.process(scanner.scan(), now: 6)
        let new = try #require(intake.process(scanner.scan(), now: 9).first)
        #expect(new.runId != old.runId)
        let store = try RunStore(stateDirectory: state.path)
        #expect(store.record(job: "alice", runId: old.runId)?.state == .superseded)
        #expect(store.pending.map(\.runId) == [new.runId])
        #expect(outbox.list("alice") == [new.runId])                     // the stale queued folder is gone
    }
}

@Suite struct RefusedFolderTests {
    /// A job folder that is a symlink (it could point anywhere on the machine) is not read; its
    /// owner finds the reason in the outbox, once.
    @Test func symlinkedJobFolderGetsAnErrorAndIsNeverRead() throws {
        let inbox = TemporaryDirectory(), outbox = TemporaryDirectory(), state = TemporaryDirectory(), elsewhere = TemporaryDirectory()
        elsewhere.write("recipe.yaml", "method: lora\n")
        try FileManager.default.createSymbolicLink(atPath: inbox.path + "/sneaky", withDestinationPath: elsewhere.path)
        var intake = JobIntake(store: try RunStore(stateDirectory: state.path), outbox: outbox.path, settleSeconds: 1,
                               logger: .init(label: "test"))
        let scanner = InboxScanner(inbox: inbox.path)
        #expect(intake.process(scanner.scan(), now: 0).isEmpty)
        #expect(intake.process(scanner.scan(), now: 5).isEmpty)
        let error = try String(contentsOfFile: outbox.path + "/sneaky/refused/error.txt", encoding: .utf8)
        #expect(error.contains("symbolic link"))
        #expect(try RunStore(stateDirectory: state.path).pending.isEmpty)
    }
}
