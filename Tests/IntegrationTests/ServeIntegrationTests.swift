#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// The real `dropbooth serve` binary on temporary folders, with a short settle time.
@Suite(.serialized) struct ServeIntegrationTests {
    @Test func goodJobCompletes() throws {
        let service = try ServiceHarness()
        try service.addJob("alice")
        let serve = try service.startServe(once: true)
        #expect(service.wait(serve, timeout: 60) == 0, "serve did not finish: \(service.serveLogs)")

        #expect(service.runs(of: "alice").count == 1)
        #expect(service.status(of: "alice")["state"] as? String == "succeeded")
        let run = "alice/" + (service.runs(of: "alice").first ?? "?")
        let published = (try? FileManager.default.contentsOfDirectory(atPath: service.outbox + "/" + run)) ?? []
        for file in ["contact-sheet.jpg", "rejected.txt", "estimate.txt", "recipe.yaml", "log.txt", "status.json"] {
            #expect(published.contains(file), "missing \(file) in \(published)")
        }
        #expect(service.text("index.html").contains("\(run)/contact-sheet.jpg"))
        #expect(service.text(run + "/recipe.yaml") == ServiceHarness.goodRecipe)

        // Started again on the unchanged folder: nothing runs twice.
        let again = try service.startServe(once: true)
        #expect(service.wait(again, timeout: 60) == 0)
        #expect(service.runs(of: "alice").count == 1)
        #expect(service.serveLogs.components(separatedBy: "started run").count == 2)
    }

    /// A slow copy into a running service: the recipe arrives first, the photos trickle in
    /// faster than the settle time. The job starts once, with every photo.
    @Test func slowCopyIntoARunningServiceStartsOnceWithEveryPhoto() throws {
        let service = try ServiceHarness(settleSeconds: 2.5)
        let serve = try service.startServe(once: false)
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }
        usleep(500_000)
        let folder = service.inbox + "/trickle"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try ServiceHarness.goodRecipe.write(toFile: folder + "/recipe.yaml", atomically: true, encoding: .utf8)
        let photos = try FileManager.default.contentsOfDirectory(atPath: ServiceHarness.samplesFolder)
            .filter { $0.hasSuffix(".jpg") }.sorted().prefix(4)
        for photo in photos {
            usleep(500_000)                                            // well inside the settle time
            try FileManager.default.copyItem(atPath: ServiceHarness.samplesFolder + "/" + photo, toPath: folder + "/" + photo)
            #expect(service.runs(of: "trickle").isEmpty, "started before the copy finished")
        }
        #expect(service.eventually(timeout: 60) { service.status(of: "trickle")["state"] as? String == "succeeded" },
                "\(service.serveLogs)")
        kill(serve.processIdentifier, SIGTERM)
        #expect(service.wait(serve, timeout: 20) == 0)
        #expect(service.runs(of: "trickle").count == 1)
        #expect(service.serveLogs.contains("(5 files)"))
        let preflight = service.text("trickle/\(service.runs(of: "trickle").first ?? "?")/preflight.json")
        for photo in photos { #expect(preflight.contains(photo)) }
    }

    @Test func badRecipeAndBadImagesGetClearErrorsWhileTheGoodJobCompletes() throws {
        let service = try ServiceHarness()
        try service.addJob("good")
        try service.addJob("bad-recipe", recipe: """
            version: 1
            method: lora
            base_model: sd15
            dry_run: true
            subject:
              token: sks
              class: toy
            train:
              stepz: 100
              resolution: big
            """)
        try service.addJob("bad-images", samples: false)
        try service.write("bad-images/empty.jpg", Data())
        try service.write("bad-images/notes.png", Data("this is not a picture".utf8))
        var truncated = try Data(contentsOf: URL(fileURLWithPath: ServiceHarness.samplesFolder + "/toy-sky.jpg"))
        truncated = truncated.prefix(200)
        try service.write("bad-images/cut.jpg", truncated)

        let serve = try service.startServe(once: true)
        #expect(service.wait(serve, timeout: 90) == 0, "serve did not finish: \(service.serveLogs)")

        #expect(service.status(of: "good")["state"] as? String == "succeeded")

        #expect(service.status(of: "bad-recipe")["state"] as? String == "failed")
        let recipeError = service.text("bad-recipe/\(service.runs(of: "bad-recipe").first ?? "?")/error.txt")
        #expect(recipeError.contains("recipe.yaml:9:"), "\(recipeError)")      // stepz, with its line
        #expect(recipeError.contains("stepz"))
        #expect(recipeError.contains("recipe.yaml:10:"))                        // resolution: big

        #expect(service.status(of: "bad-images")["state"] as? String == "failed")
        let imageRun = "bad-images/\(service.runs(of: "bad-images").first ?? "?")"
        let imageError = service.text(imageRun + "/error.txt")
        for name in ["empty.jpg", "notes.png", "cut.jpg"] {
            #expect(imageError.contains(name), "error.txt does not name \(name):\n\(imageError)")
        }
        #expect(service.text(imageRun + "/rejected.txt").contains("empty.jpg"))
        #expect(service.text("index.html").contains("failed"))
    }

    @Test func daemonKilledMidJobResumesAndFinishesOnce() throws {
        let service = try ServiceHarness()
        try service.addJob("slow")
        // The test hold phase: 30 checkpointed steps of 100 ms, room for a kill in the middle.
        let hold = ["DROPBOOTH_TEST_HOLD_STEPS": "30", "DROPBOOTH_TEST_HOLD_MS": "100"]
        let first = try service.startServe(once: false, environment: hold)
        let midJob = service.eventually(timeout: 60) {
            let status = service.status(of: "slow")
            return status["phase"] as? String == "hold" && (status["step"] as? Int ?? 0) >= 5
        }
        #expect(midJob, "the job never got going: \(service.serveLogs)")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(service.status(of: "slow")["state"] as? String != "succeeded")

        let second = try service.startServe(once: true, environment: hold)
        #expect(service.wait(second, timeout: 60) == 0, "restarted serve did not finish: \(service.serveLogs)")

        #expect(service.runs(of: "slow").count == 1)
        #expect(service.status(of: "slow")["state"] as? String == "succeeded")
        let log = service.text("slow/\(service.runs(of: "slow").first ?? "?")/log.txt")
        #expect(log.contains("hold: resuming at step"), "\(log)")
        #expect(log.components(separatedBy: "run finished; publishing").count == 2)   // exactly once
        #expect(log.contains("phase preflight: already done before the restart"))
        for step in 1...30 {
            let count = log.components(separatedBy: "hold: step \(step)/30\n").count - 1
            #expect((1...2).contains(count), "step \(step) ran \(count) times")
        }
        let record = try String(contentsOfFile: service.state + "/runs/slow/\(service.runs(of: "slow").first ?? "?").json", encoding: .utf8)
        #expect(record.contains("\"attempts\" : 2"))
    }

    @Test func sigtermCheckpointsTheJobAndExitsCleanly() throws {
        let service = try ServiceHarness()
        try service.addJob("paused")
        let hold = ["DROPBOOTH_TEST_HOLD_STEPS": "40", "DROPBOOTH_TEST_HOLD_MS": "100"]
        let serve = try service.startServe(once: false, environment: hold)
        #expect(service.eventually(timeout: 60) { (service.status(of: "paused")["step"] as? Int ?? 0) >= 3 })
        kill(serve.processIdentifier, SIGTERM)
        #expect(service.wait(serve, timeout: 20) == 0, "serve did not stop cleanly: \(service.serveLogs)")
        #expect(service.status(of: "paused")["state"] as? String == "paused")

        let resumed = try service.startServe(once: true, environment: hold)
        #expect(service.wait(resumed, timeout: 60) == 0)
        #expect(service.status(of: "paused")["state"] as? String == "succeeded")
    }

    @Test func crashedJobIsRecordedWithItsSignalAndTheNextJobStillRuns() throws {
        let service = try ServiceHarness()
        try service.addJob("a-crash")
        try service.addJob("b-next")
        let hold = ["DROPBOOTH_TEST_HOLD_STEPS": "15", "DROPBOOTH_TEST_HOLD_MS": "100"]
        let serve = try service.startServe(once: true, environment: hold)
        #expect(service.eventually(timeout: 60) { (service.status(of: "a-crash")["step"] as? Int ?? 0) >= 2 })
        let children = ServiceHarness.children(of: serve.processIdentifier)
        try #require(children.count == 1, "expected one job process, found \(children)")
        kill(children[0], SIGKILL)     // as the OOM killer would
        #expect(service.wait(serve, timeout: 60) == 0, "serve did not finish: \(service.serveLogs)")

        #expect(service.status(of: "a-crash")["state"] as? String == "failed")
        let error = service.text("a-crash/\(service.runs(of: "a-crash").first ?? "?")/error.txt")
        #expect(error.contains("killed by signal 9"), "\(error)")
        #expect(service.status(of: "b-next")["state"] as? String == "succeeded")
    }
}

@Suite struct QuietHoursIntegrationTests {
    /// Outside the configured window jobs wait: `serve --once` leaves the job queued and
    /// `status` says the window is closed.
    @Test func jobsWaitOutsideTheWindow() throws {
        let service = try ServiceHarness()
        let calendar = Calendar.current
        let parts = calendar.dateComponents([.hour, .minute], from: Date())
        let start = ((parts.hour ?? 0) + 2) % 24, end = ((parts.hour ?? 0) + 3) % 24
        try (String(contentsOfFile: service.configPath, encoding: .utf8)
             + String(format: "\nquiet_hours: \"%02d:00-%02d:00\"\n", start, end))
            .write(toFile: service.configPath, atomically: true, encoding: .utf8)
        try service.addJob("night-owl")
        let serve = try service.startServe(once: true)
        #expect(service.wait(serve, timeout: 60) == 0, "\(service.serveLogs)")
        #expect(service.status(of: "night-owl")["state"] as? String == "queued")

        let status = Process()
        status.executableURL = URL(fileURLWithPath: ServiceHarness.executable)
        status.arguments = ["status", "--config", service.configPath]
        let pipe = Pipe()
        status.standardOutput = pipe
        try status.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        status.waitUntilExit()
        #expect(text.contains("now closed: jobs wait"), "\(text)")
        #expect(text.contains("1. night-owl"), "\(text)")
    }
}
