#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import Service

@Suite struct FingerprintTests {
    func fingerprint(_ inbox: TemporaryDirectory, _ job: String = "job") throws -> Fingerprint {
        try Fingerprint.of(job: InboxScanner(inbox: inbox.path).snapshot(job: job))
    }

    @Test func sameContentSameRunAndTouchingChangesNothing() throws {
        let inbox = TemporaryDirectory()
        inbox.write("job/recipe.yaml", "method: lora\n")
        inbox.write("job/a.jpg", "pixels")
        let first = try fingerprint(inbox)
        let before = Fingerprint.stampKey(of: InboxScanner(inbox: inbox.path).snapshot(job: "job"))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1000)], ofItemAtPath: inbox.path + "/job/a.jpg")
        inbox.write("job/.DS_Store", "ignored")
        #expect(try fingerprint(inbox) == first)
        #expect(Fingerprint.stampKey(of: InboxScanner(inbox: inbox.path).snapshot(job: "job")) != before)
        #expect(first.runId.count == 16)
    }

    @Test func changingTheRecipeOrAnImageMakesANewRun() throws {
        let inbox = TemporaryDirectory()
        inbox.write("job/recipe.yaml", "method: lora\n")
        inbox.write("job/a.jpg", "pixels")
        let original = try fingerprint(inbox)
        inbox.write("job/recipe.yaml", "method: dreambooth\n")
        let newRecipe = try fingerprint(inbox)
        #expect(newRecipe != original)
        inbox.write("job/a.jpg", "pixelz")                                 // same size, new content
        #expect(try fingerprint(inbox) != newRecipe)
        inbox.write("job/a.jpg", "pixels")
        inbox.write("job/recipe.yaml", "method: lora\n")
        #expect(try fingerprint(inbox) == original)                        // back as it was
        try FileManager.default.moveItem(atPath: inbox.path + "/job/a.jpg", toPath: inbox.path + "/job/b.jpg")
        #expect(try fingerprint(inbox) != original)                        // names count too
    }
}

@Suite struct FingerprintLimitTests {
    /// An oversized file is not read to fingerprint it; its name, size and time stand for it.
    @Test func oversizedFilesAreNotRead() throws {
        let inbox = TemporaryDirectory()
        inbox.write("job/recipe.yaml", "method: lora\n")
        inbox.write("job/huge.jpg", String(repeating: "x", count: 100))
        let snapshot = InboxScanner(inbox: inbox.path).snapshot(job: "job")
        let capped = try Fingerprint.of(job: snapshot, maxContentBytes: 50)
        let uncapped = try Fingerprint.of(job: snapshot)
        // Same size, same time (to the nanosecond), different bytes: unseen under the cap.
        inbox.write("job/huge.jpg", String(repeating: "y", count: 100))
        let modified = try #require(snapshot.files.first { $0.path == "huge.jpg" }).modified
        var times = [timespec(tv_sec: Int(modified / 1_000_000_000), tv_nsec: Int(modified % 1_000_000_000)),
                     timespec(tv_sec: Int(modified / 1_000_000_000), tv_nsec: Int(modified % 1_000_000_000))]
        #expect(utimensat(AT_FDCWD, inbox.path + "/job/huge.jpg", &times, 0) == 0)
        let again = InboxScanner(inbox: inbox.path).snapshot(job: "job")
        #expect(again == snapshot)
        #expect(try Fingerprint.of(job: again, maxContentBytes: 50) == capped)
        #expect(try Fingerprint.of(job: again) != uncapped)
    }
}
