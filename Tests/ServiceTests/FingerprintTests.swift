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
