#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import Testing
@testable import Service

extension InotifyUsers {
    /// The daemon's loop with a stand-in for the job process: a shell script that behaves like
    /// `dropbooth run` (exit 0 done, 75 when SIGTERM asks it to checkpoint). The real binary is
    /// exercised in IntegrationTests; here the loop's own decisions are under test.
    @Suite struct DaemonTests {
        @Test func runningJobPausesOutsideTheWindowAndResumesWhenItOpens() async throws {
            let root = TemporaryDirectory()
            root.write("inbox/alice/recipe.yaml", "method: lora\n")
            let starts = root.path + "/starts"
            // First start: work for up to 20 s, checkpoint-and-exit (75) on SIGTERM. Later starts: finish.
            let script = root.write("fake-run.sh", """
                #!/bin/sh
                trap 'exit 75' TERM
                echo "$@" >> \(starts)
                if [ "$(wc -l < \(starts))" -gt 1 ]; then sleep 0.2; exit 0; fi
                i=0; while [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
                exit 0
                """)
            chmod(script, 0o755)
            let open = Atomic<Bool>(true)
            var config = ServiceConfig(inbox: root.path + "/inbox", outbox: root.path + "/outbox", stateDirectory: root.path + "/state")
            config.settleSeconds = 0.2
            let daemon = Daemon(config: config,
                                options: .init(configPath: nil, executable: script, once: false,
                                               schedule: { _ in open.load(ordering: .relaxed) }),
                                logger: Logger(label: "test"))
            let running = Task { try await daemon.run() }

            func lines() -> [String] {
                ((try? String(contentsOfFile: starts, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            }
            func state() -> RunState? { (try? RunStore(stateDirectory: config.stateDirectory))?.runs(of: "alice").first?.state }

            try await eventually { lines().count == 1 }
            #expect(lines().first?.hasPrefix("run \(config.inbox)/alice --run-id ") == true)
            open.store(false, ordering: .relaxed)                    // the window closes mid-job
            try await eventually { state() == .paused }
            try await Task.sleep(for: .milliseconds(500))
            #expect(lines().count == 1)                              // and nothing starts while closed
            open.store(true, ordering: .relaxed)
            try await eventually { state() == .succeeded }
            running.cancel()
            try await running.value
            #expect(lines().count == 2)
            #expect(lines()[0] == lines()[1])                        // the same run, resumed
        }

        /// No inotify at all (a share whose changes come from other machines): a job copied in
        /// after the daemon started is found by the periodic rescan.
        @Test func rescanAloneFindsAJobNoEventAnnounced() async throws {
            let root = TemporaryDirectory()
            root.write("inbox/.keep", "")
            let starts = root.path + "/starts"
            let script = root.write("fake-run.sh", "#!/bin/sh\necho \"$2\" >> \(starts)\nexit 0\n")
            chmod(script, 0o755)
            var config = ServiceConfig(inbox: root.path + "/inbox", outbox: root.path + "/outbox", stateDirectory: root.path + "/state")
            config.settleSeconds = 0.2
            config.rescanSeconds = 1
            var options = Daemon.Options(configPath: nil, executable: script)
            options.watchInbox = false
            let daemon = Daemon(config: config, options: options, logger: Logger(label: "test"))
            let running = Task { try await daemon.run() }
            try await Task.sleep(for: .milliseconds(300))
            root.write("inbox/bob/recipe.yaml", "method: lora\n")
            try await eventually { (try? String(contentsOfFile: starts, encoding: .utf8)) == config.inbox + "/bob\n" }
            try await eventually { (try? RunStore(stateDirectory: config.stateDirectory))?.runs(of: "bob").first?.state == .succeeded }
            running.cancel()
            try await running.value
        }

        @Test func secondDaemonOnTheSameStateIsRefused() async throws {
            let root = TemporaryDirectory()
            root.write("inbox/.keep", "")
            let config = ServiceConfig(inbox: root.path + "/inbox", outbox: root.path + "/outbox", stateDirectory: root.path + "/state")
            try Directories.create(root.path + "/state")
            let lock = try #require(try RunLock.acquire(path: root.path + "/state/daemon.lock", timeout: 0))
            defer { withExtendedLifetime(lock) {} }
            let daemon = Daemon(config: config, options: .init(configPath: nil, executable: "/bin/false", once: true),
                                logger: Logger(label: "test"))
            await #expect(throws: ServiceError.self) { try await daemon.run() }
        }

        func eventually(_ condition: () -> Bool) async throws {
            for _ in 0..<600 where !condition() { try await Task.sleep(for: .milliseconds(50)) }
            #expect(condition())
            if !condition() { throw CancellationError() }
        }
    }
}
