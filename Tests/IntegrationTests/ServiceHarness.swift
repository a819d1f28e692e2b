#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Temporary inbox/outbox/state folders with a config, and the real `dropbooth` binary built
/// next to this test bundle, started as the daemon would be.
final class ServiceHarness {
    let root: String
    var inbox: String { root + "/inbox" }
    var outbox: String { root + "/outbox" }
    var state: String { root + "/state" }
    var configPath: String { root + "/config.yaml" }

    init(settleSeconds: Double = 0.5) throws {
        root = NSTemporaryDirectory() + "dropbooth-it-" + UUID().uuidString
        for folder in ["inbox", "outbox", "state"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        try """
            inbox: inbox
            outbox: outbox
            state_directory: state
            models:
              sd15: models/sd15
            settle_seconds: \(settleSeconds)
            rescan_seconds: 2
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// The binary SwiftPM built beside the test bundle (the build products folder).
    static var executable: String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: me).deletingLastPathComponent()
        // Inside `…/debug/dropboothPackageTests.xctest` on Linux the binary is one level up or here.
        for _ in 0..<3 {
            let candidate = folder.appendingPathComponent("dropbooth").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/dropbooth").path
    }

    /// Runs the binary with `arguments` to its end, standard output discarded: the exit status
    /// and what it wrote to standard error.
    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// The photos the repository ships in samples/.
    static var samplesFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("samples").path
    }

    static let goodRecipe = """
        version: 1
        method: lora
        base_model: sd15
        dry_run: true
        subject:
          token: sks
          class: toy
        """

    /// A job folder with the bundled sample photos and `recipe`.
    func addJob(_ name: String, recipe: String = ServiceHarness.goodRecipe, samples: Bool = true) throws {
        let folder = inbox + "/" + name
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if samples {
            for file in try FileManager.default.contentsOfDirectory(atPath: Self.samplesFolder)
            where file.hasSuffix(".jpg") || file.hasSuffix(".png") {
                try FileManager.default.copyItem(atPath: Self.samplesFolder + "/" + file, toPath: folder + "/" + file)
            }
        }
        try recipe.write(toFile: folder + "/recipe.yaml", atomically: true, encoding: .utf8)
    }

    func write(_ relative: String, _ data: Data) throws {
        try data.write(to: URL(fileURLWithPath: inbox + "/" + relative))
    }

    /// Starts `dropbooth serve`; its output goes to `<root>/serve-N.log`.
    func startServe(once: Bool, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["serve", "--config", configPath] + (once ? ["--once"] : [])
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        var env = ProcessInfo.processInfo.environment
        for key in ["JOURNAL_STREAM", "INVOCATION_ID", "NOTIFY_SOCKET"] { env[key] = nil }
        env.merge(environment) { _, new in new }
        process.environment = env
        let logPath = root + "/serve-\(UUID().uuidString.prefix(6)).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// Waits for the process to exit, killing it after `timeout` seconds (then the test fails).
    func wait(_ process: Process, timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Polls `condition` until it holds or `timeout` seconds pass.
    func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    func runs(of job: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: outbox + "/" + job)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    func text(_ relative: String) -> String {
        (try? String(contentsOfFile: outbox + "/" + relative, encoding: .utf8)) ?? ""
    }

    /// status.json of a job's only run, as a dictionary.
    func status(of job: String) -> [String: Any] {
        guard let run = runs(of: job).first,
              let data = FileManager.default.contents(atPath: "\(outbox)/\(job)/\(run)/status.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }

    var serveLogs: String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return files.filter { $0.hasPrefix("serve-") }.compactMap { try? String(contentsOfFile: root + "/" + $0, encoding: .utf8) }
            .joined(separator: "\n")
    }

    /// Processes whose parent is `pid`, from /proc/*/stat.
    static func children(of pid: Int32) -> [Int32] {
        var found: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm)" come the state and the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == pid { found.append(child) }
        }
        return found
    }
}
