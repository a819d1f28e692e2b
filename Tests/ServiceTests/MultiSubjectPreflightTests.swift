import Foundation
import Imaging
import Logging
import Testing
@testable import Service

/// A multi-subject DreamBooth job whose class images sit in each subject's own folder
/// (`rex/class`, `tom/class`, the default class folders): validation and preflight, through
/// the runner with the standard validation, must accept the nested folders and read them.
@Suite struct MultiSubjectPreflightTests {
    let dirs = (inbox: TemporaryDirectory(), outbox: TemporaryDirectory(), state: TemporaryDirectory())

    func writeImage(_ relative: String, seed: Int) throws {
        let png = try ImageEncoder.png(PreflightTests.photo(width: 72, height: 64, seed: seed))
        let path = dirs.inbox.path + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(png).write(to: URL(fileURLWithPath: path))
    }

    func runPreflight(job: String) throws -> JobRunner.Outcome {
        dirs.inbox.write("\(job)/recipe.yaml", """
            version: 1
            method: dreambooth
            base_model: tiny
            dry_run: true
            subjects:
              - {token: sks, class: dog, folder: rex}
              - {token: zwx, class: cat, folder: tom}
            prior_preservation: {enabled: true, class_images: 2}
            train: {steps: 2, resolution: 64}
            """)
        let config = ServiceConfig(inbox: dirs.inbox.path, outbox: dirs.outbox.path, stateDirectory: dirs.state.path,
                                   models: ["tiny": TrainingJobTests.sd1Tiny])
        let phases: [any JobPhase] = [ValidateRecipePhase(validate: StandardPipeline.plan), PreflightPhase()]
        let runner = JobRunner(config: config, job: job, runId: "r1", jobDirectory: dirs.inbox.path + "/" + job,
                               phases: phases, logger: Logger(label: "test"))
        return try runner.run()
    }

    func report(_ job: String, _ stem: String) throws -> PreflightReport {
        try JSONDecoder().decode(PreflightReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(dirs.outbox.path)/\(job)/r1/\(stem).json")))
    }

    @Test func perSubjectClassFoldersPassPreflight() throws {
        for (folder, seed) in [("rex", 0), ("tom", 3)] {
            for k in 0..<2 {
                try writeImage("pets/\(folder)/img\(k).png", seed: seed + k)
                try writeImage("pets/\(folder)/class/c\(k).png", seed: seed + k + 7)
            }
        }
        #expect(try runPreflight(job: "pets") == .succeeded)
        for folder in ["rex", "tom"] {
            let subject = try report("pets", "preflight-\(folder)")
            #expect(subject.accepted.map(\.fileName) == ["img0.png", "img1.png"])
            // The class folder inside the subject's folder is read on its own, not rejected.
            #expect(subject.rejected.isEmpty, "\(subject.rejected)")
            let classes = try report("pets", "preflight-\(folder)-class")
            #expect(classes.folder == "\(folder)/class" && classes.accepted.map(\.fileName) == ["c0.png", "c1.png"])
        }
        let rejected = try String(contentsOfFile: "\(dirs.outbox.path)/pets/r1/rejected.txt", encoding: .utf8)
        #expect(rejected == "No files were rejected.\n")
    }

    @Test func aSymlinkedClassFolderFailsPreflightNamingIt() throws {
        for k in 0..<2 {
            try writeImage("links/rex/img\(k).png", seed: k)
            try writeImage("links/tom/img\(k).png", seed: k + 3)
            try writeImage("elsewhere/c\(k).png", seed: k + 7)
        }
        try FileManager.default.createSymbolicLink(atPath: dirs.inbox.path + "/links/rex/class", withDestinationPath: dirs.inbox.path + "/elsewhere")
        let outcome = try runPreflight(job: "links")
        guard case .failed(let message) = outcome else { Issue.record("expected a failure, got \(outcome)"); return }
        #expect(message.contains("rex/class/ is a symbolic link inside rex/: refused"), "\(message)")
    }
}
