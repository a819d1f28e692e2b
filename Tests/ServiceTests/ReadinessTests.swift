import Foundation
import Testing
@testable import Service

/// A slow copy over a share: the folder keeps changing for a while, then goes quiet. Times are
/// given to the tracker explicitly, so the test does not depend on the machine's speed.
@Suite struct ReadinessTests {
    @Test func slowCopyIsReadyOnlyAfterItWentQuietForTheSettleTime() {
        let inbox = TemporaryDirectory()
        inbox.write("alice/recipe.yaml", "method: lora\n")
        inbox.write("alice/photo1.jpg", "part one")
        let scanner = InboxScanner(inbox: inbox.path)
        var tracker = ReadinessTracker(settleSeconds: 10)

        #expect(tracker.observe(scanner.scan().jobs, now: 0).isEmpty)
        inbox.append("alice/photo1.jpg", " part two")                   // the copy goes on
        #expect(tracker.observe(scanner.scan().jobs, now: 8).isEmpty)
        inbox.write("alice/photo2.jpg", "another")                       // and a new file arrives
        #expect(tracker.observe(scanner.scan().jobs, now: 15).isEmpty)   // 7 s after the last change
        #expect(tracker.observe(scanner.scan().jobs, now: 24).isEmpty)   // 9 s: still settling
        let ready = tracker.observe(scanner.scan().jobs, now: 25)        // 10 s of quiet
        #expect(ready.map(\.name) == ["alice"])
        #expect(ready.first?.files.map(\.path) == ["photo1.jpg", "photo2.jpg", "recipe.yaml"])
    }

    @Test func folderWithoutRecipeIsNeverReady() {
        let inbox = TemporaryDirectory()
        inbox.write("bob/photo.jpg", "x")
        var tracker = ReadinessTracker(settleSeconds: 1)
        let scanner = InboxScanner(inbox: inbox.path)
        #expect(tracker.observe(scanner.scan().jobs, now: 0).isEmpty)
        #expect(tracker.observe(scanner.scan().jobs, now: 100).isEmpty)
    }

    @Test func hiddenAndEditorFilesDoNotDelayReadiness() {
        let inbox = TemporaryDirectory()
        inbox.write("carol/recipe.yaml", "x")
        let scanner = InboxScanner(inbox: inbox.path)
        var tracker = ReadinessTracker(settleSeconds: 5)
        _ = tracker.observe(scanner.scan().jobs, now: 0)
        inbox.write("carol/.DS_Store", "finder")
        inbox.write("carol/.recipe.yaml.swp", "vim")
        inbox.write("carol/recipe.yaml~", "backup")
        inbox.write("carol/.photo.jpg.Xa81b", "rsync temporary")
        #expect(tracker.observe(scanner.scan().jobs, now: 5).map(\.name) == ["carol"])
    }

    @Test func partialUploadKeepsTheFolderWaiting() {
        let inbox = TemporaryDirectory()
        inbox.write("dave/recipe.yaml", "x")
        inbox.write("dave/photo.jpg.part", "half a photo")
        let scanner = InboxScanner(inbox: inbox.path)
        var tracker = ReadinessTracker(settleSeconds: 1)
        _ = tracker.observe(scanner.scan().jobs, now: 0)
        #expect(tracker.observe(scanner.scan().jobs, now: 50).isEmpty)
        try! FileManager.default.moveItem(atPath: inbox.path + "/dave/photo.jpg.part", toPath: inbox.path + "/dave/photo.jpg")
        #expect(tracker.observe(scanner.scan().jobs, now: 51).isEmpty)   // the rename is a change
        #expect(tracker.observe(scanner.scan().jobs, now: 52).map(\.name) == ["dave"])
    }

    @Test func symlinksAreRefusedNeverFollowed() throws {
        let inbox = TemporaryDirectory()
        let elsewhere = TemporaryDirectory()
        elsewhere.write("secret.txt", "do not read")
        inbox.write("erin/recipe.yaml", "x")
        try FileManager.default.createSymbolicLink(atPath: inbox.path + "/erin/secret.jpg", withDestinationPath: elsewhere.path + "/secret.txt")
        try FileManager.default.createSymbolicLink(atPath: inbox.path + "/linked-job", withDestinationPath: elsewhere.path)
        let scan = InboxScanner(inbox: inbox.path).scan()
        #expect(scan.jobs.map(\.name) == ["erin"])
        #expect(scan.jobs.first?.files.map(\.path) == ["recipe.yaml"])
        #expect(scan.jobs.first?.refusedEntries == ["secret.jpg"])
        #expect(scan.refused.map(\.name) == ["linked-job"])
    }

    @Test func ignoredNamesAndJobNames() {
        #expect(IgnoredNames.isIgnored(".hidden"))
        #expect(IgnoredNames.isIgnored("#recipe.yaml#"))
        #expect(IgnoredNames.isIgnored("~$notes.docx"))
        #expect(!IgnoredNames.isIgnored("photo.jpg"))
        #expect(IgnoredNames.isPartialUpload("photo.jpg.crdownload"))
        #expect(!IgnoredNames.isPartialUpload("photo.jpg"))
        #expect(JobName.problem(with: "alice portraits") == nil)
        #expect(JobName.problem(with: "..") != nil)
        #expect(JobName.problem(with: "bad\u{1b}[31mname") != nil)
    }
}
