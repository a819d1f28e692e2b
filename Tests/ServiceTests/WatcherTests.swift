import Foundation
import Synchronization
import Testing
@testable import Service

extension InotifyUsers {
    @Suite struct WatcherTests {
        /// The watcher follows new folders: a file written inside a job folder created after the
        /// watch started still nudges. (Bounded wait; the nudge normally arrives in milliseconds.)
        @Test func nudgesForFilesInNewlyCreatedFolders() async throws {
            let inbox = TemporaryDirectory()
            let nudges = Atomic<Int>(0)
            let watcher = InotifyWatcher(inbox: inbox.path, log: { _ in }) { _ in nudges.add(1, ordering: .relaxed) }
            try #require(watcher.start())
            defer { watcher.stop() }
            try FileManager.default.createDirectory(atPath: inbox.path + "/alice", withIntermediateDirectories: false)
            try await waitUntil { nudges.load(ordering: .relaxed) > 0 }
            try await Task.sleep(for: .milliseconds(100))       // let the new folder's watch be added
            let before = nudges.load(ordering: .relaxed)
            inbox.write("alice/recipe.yaml", "method: lora\n")
            try await waitUntil { nudges.load(ordering: .relaxed) > before }
        }

        func waitUntil(_ condition: () -> Bool) async throws {
            for _ in 0..<100 where !condition() { try await Task.sleep(for: .milliseconds(50)) }
            #expect(condition())
        }
    }
}
