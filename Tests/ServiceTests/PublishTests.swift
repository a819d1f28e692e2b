import Foundation
import Testing
@testable import Service

/// Nothing half-written is ever visible in the outbox.
@Suite struct PublishTests {
    @Test func artefactsAppearOnlyWithTheFinalRename() throws {
        let outbox = TemporaryDirectory()
        let publisher = RunPublisher(outbox: outbox.path, job: "alice", run: "0123456789abcdef")
        try publisher.open(JobStatus(job: "alice", run: "0123456789abcdef", state: .running, phase: "preflight"))
        #expect(outbox.list("alice/0123456789abcdef") == ["status.json"])

        // Work in progress: written to staging, not visible in the run folder.
        try AtomicFile.write(Data("jpeg".utf8), to: publisher.stagingDirectory + "/contact-sheet.jpg")
        try AtomicFile.write(Data("half".utf8), to: publisher.stagingDirectory + "/log.txt")
        #expect(outbox.list("alice/0123456789abcdef") == ["status.json"])
        #expect(JobStatus.read(runDirectory: publisher.liveDirectory)?.state == .running)

        try publisher.publish(JobStatus(job: "alice", run: "0123456789abcdef", state: .succeeded, phase: "done"))
        #expect(outbox.list("alice/0123456789abcdef") == ["contact-sheet.jpg", "log.txt", "status.json"])
        #expect(JobStatus.read(runDirectory: publisher.liveDirectory)?.state == .succeeded)
        #expect(!outbox.exists(".staging/alice/0123456789abcdef"))
        let index = try String(contentsOfFile: outbox.path + "/index.html", encoding: .utf8)
        #expect(index.contains("alice/0123456789abcdef/contact-sheet.jpg"))
        #expect(index.contains("succeeded"))
    }

    @Test func directoryExchangeSwapsBothWays() throws {
        let dir = TemporaryDirectory()
        dir.write("a/one", "1")
        dir.write("b/two", "2")
        #expect(DirectoryExchange.exchange(dir.path + "/a", dir.path + "/b"))
        #expect(dir.list("a") == ["two"])
        #expect(dir.list("b") == ["one"])
    }

    @Test func failureGetsErrorTextInPlainWords() throws {
        let outbox = TemporaryDirectory()
        let publisher = RunPublisher(outbox: outbox.path, job: "bob", run: "r1")
        try publisher.open(JobStatus(job: "bob", run: "r1", state: .running, phase: "validate"))
        try publisher.publishFailure("recipe.yaml:3:8: train.steps: expected a whole number",
                                     status: JobStatus(job: "bob", run: "r1", state: .failed, phase: "validate", error: "bad recipe"))
        let text = try String(contentsOfFile: outbox.path + "/bob/r1/error.txt", encoding: .utf8)
        #expect(text.contains("recipe.yaml:3:8: train.steps"))
        #expect(JobStatus.read(runDirectory: outbox.path + "/bob/r1")?.state == .failed)
    }

    @Test func atomicWriteReplacesWholeFilesAndLeavesNoTemporaries() throws {
        let dir = TemporaryDirectory()
        try AtomicFile.write(Data("first".utf8), to: dir.path + "/file")
        try AtomicFile.write(Data("second".utf8), to: dir.path + "/file")
        #expect(try String(contentsOfFile: dir.path + "/file", encoding: .utf8) == "second")
        #expect(dir.list("") == ["file"])
    }

    @Test func indexEscapesNamesFromTheShare() {
        #expect(OutboxIndex.escape("<script>&\"") == "&lt;script&gt;&amp;&quot;")
        #expect(OutboxIndex.path("my job#1") == "my%20job%231")
    }
}
