#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Service

@Suite struct ConfigTests {
    static let minimal = "inbox: in\noutbox: out\nstate_directory: state\n"

    func problems(_ text: String) -> [ConfigProblem] {
        do { _ = try ServiceConfig.parse(text, file: "config.yaml", baseDirectory: "/etc/dropbooth"); return [] }
        catch { return error.problems }
    }

    @Test func relativePathsResolveAgainstTheConfigFolder() throws {
        let config = try ServiceConfig.parse(Self.minimal + "models:\n  sd15: ../models/./sd15\n  abs: /m/x.safetensors\n",
                                             baseDirectory: "/etc/dropbooth")
        #expect(config.inbox == "/etc/dropbooth/in")
        #expect(config.stateDirectory == "/etc/dropbooth/state")
        #expect(config.models == ["sd15": "/etc/models/sd15", "abs": "/m/x.safetensors"])
        #expect(config.limits == ServiceConfig.Limits())
        #expect(config.quietHours == nil)
        #expect(config.settleSeconds == 30)
    }

    @Test func loadResolvesAgainstTheFilesFolder() throws {
        var template = Array("/tmp/configtests.XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let dir = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let f = fopen(dir + "/config.yaml", "w")!
        fputs(Self.minimal + "threads: 3\n", f)
        fclose(f)
        let config = try ServiceConfig.load(path: dir + "/config.yaml")
        #expect(config.outbox == dir + "/out")
        #expect(config.threads == 3)
        let missing = #expect(throws: ConfigProblems.self) { try ServiceConfig.load(path: dir + "/nope.yaml") }
        #expect(missing?.problems.first?.file == dir + "/nope.yaml")
    }

    @Test func everyFieldIsRead() throws {
        let config = try ServiceConfig.parse(Self.minimal + """
        threads: 4
        settle_seconds: 2.5
        rescan_seconds: 10
        quiet_hours: "22:30-06:15"
        limits:
          max_steps: 100
          max_resolution: 768
          min_images: 3
          max_images: 50
          max_image_pixels: 1_000_000
          max_image_bytes: 1048576
          max_recipe_bytes: 4096
          max_batch_size: 2
          max_class_images: 20
          max_subjects: 2
          max_sample_images: 4
          max_sample_steps: 30
        """, baseDirectory: "/")
        #expect(config.threads == 4)
        #expect(config.settleSeconds == 2.5)
        #expect(config.rescanSeconds == 10)
        #expect(config.quietHours == ServiceConfig.QuietHours(startMinute: 22 * 60 + 30, endMinute: 6 * 60 + 15))
        var limits = ServiceConfig.Limits()
        limits.maxSteps = 100; limits.maxResolution = 768; limits.minImages = 3; limits.maxImages = 50
        limits.maxImagePixels = 1_000_000; limits.maxImageBytes = 1 << 20; limits.maxRecipeBytes = 4096
        limits.maxBatchSize = 2; limits.maxClassImages = 20; limits.maxSubjects = 2
        limits.maxSampleImages = 4; limits.maxSampleSteps = 30
        #expect(config.limits == limits)
    }

    @Test func quietHoursWindow() throws {
        #expect(ServiceConfig.QuietHours(parsing: "22:00-07:00") == ServiceConfig.QuietHours(startMinute: 1320, endMinute: 420))
        #expect(ServiceConfig.QuietHours(parsing: "9:00 - 17:30") == ServiceConfig.QuietHours(startMinute: 540, endMinute: 1050))
        for bad in ["22:00", "25:00-07:00", "22:00-07:60", "10:00-10:00", "22-07", "aa:bb-cc:dd"] {
            #expect(ServiceConfig.QuietHours(parsing: bad) == nil, "\(bad)")
        }
        let p = try #require(problems(Self.minimal + "quiet_hours: 22h-7h\n").first)
        #expect(p.field == "quiet_hours")
        #expect((p.line, p.column) == (4, 14))
        #expect(p.suggestion?.contains("22:00-07:00") == true)
        #expect(try ServiceConfig.parse(Self.minimal + "quiet_hours: null\n", baseDirectory: "/").quietHours == nil)
    }

    @Test func missingFoldersAreReported() throws {
        let all = problems("threads: 2\n")
        #expect(all.map(\.field) == ["inbox", "outbox", "state_directory"])
        #expect(all.first?.message == "missing: the inbox folder")
    }

    @Test func unknownKeysAndWrongTypes() throws {
        let all = problems(Self.minimal + "thread: 2\nsettle_seconds: soon\nlimits:\n  max_step: 10\n  max_images: \"9\"\n")
        #expect(all.map(\.field) == ["thread", "settle_seconds", "limits.max_step", "limits.max_images"])
        #expect(all[0].suggestion == "did you mean `threads`?")
        #expect((all[0].line, all[0].column) == (4, 1))
        #expect((all[1].line, all[1].column) == (5, 17))
        #expect(all[2].suggestion == "did you mean `max_steps`?")
        #expect(all[3].suggestion == "remove the quotes")
    }

    @Test func modelsAreNamesToSafeFiles() throws {
        let all = problems(Self.minimal + "models:\n  sd15: /m/v1-5-pruned.ckpt\n  \"bad name\": /m/x\n  ok: /m/ok.safetensors\n")
        #expect(all.map(\.field) == ["models.sd15", "models.bad name"])
        #expect(all[0].message.contains("pickle"))
        #expect((all[0].line, all[0].column) == (5, 9))
        let list = problems(Self.minimal + "models: [a, b]\n")
        #expect(list.first?.message.hasPrefix("expected a mapping of model names to paths") == true)
    }

    @Test func outboxAndStateMustStayOutOfTheInbox() throws {
        let all = problems("inbox: /srv/share\noutbox: /srv/share/out\nstate_directory: /srv\n")
        #expect(all.map(\.field) == ["outbox", "state_directory"])
        #expect((all[0].line, all[0].column) == (2, 9))
        #expect(problems("inbox: /srv/in\noutbox: /srv/inbox-results\nstate_directory: /var/lib/x\n").isEmpty)
    }

    @Test func limitsAreCheckedForConsistency() throws {
        let all = problems(Self.minimal + "limits:\n  min_images: 10\n  max_images: 5\n  max_resolution: 32\n")
        #expect(all.map(\.field) == ["limits.min_images", "limits.max_resolution"])
    }

    @Test func aRecipeGivenAsConfigIsRecognised() throws {
        let all = problems("version: 1\nmethod: lora\nbase_model: sd15\n")
        #expect(all.count == 1)
        #expect(all.first?.message == "this looks like a recipe, not the service config")
    }

    @Test func syntaxErrorsNameTheFile() throws {
        let all = problems("inbox: [in\n")
        #expect(all.count == 1)
        #expect(all[0].file == "config.yaml")
        #expect(all[0].message.hasPrefix("YAML syntax:"))
    }
}
