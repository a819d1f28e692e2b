import Foundation
import Testing
@testable import Imaging

@Suite struct UntrustedFolderTests {
    @Test func readsRegularFilesAndRefusesEverythingElse() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("untrusted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = try ImageEncoder.png(TestImages.gradient(width: 20, height: 10))
        try Data(png).write(to: dir.appendingPathComponent("ok.png"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.png").path,
                                                   withDestinationPath: dir.appendingPathComponent("ok.png").path)

        let folder = try UntrustedFolder(job: dir, subfolder: nil)
        let entries = try #require(folder.entries(limit: 10)).sorted { $0.name < $1.name }
        #expect(entries.map(\.name) == ["link.png", "ok.png", "sub"])
        #expect(entries.map(\.kind) == [.symlink, .regular(size: png.count), .directory])
        #expect(folder.entries(limit: 2) == nil)

        #expect(try ImageDecoder.decode(fileNamed: "ok.png", in: folder).image.width == 20)
        #expect(throws: ImageReadError.file(.symlink)) { try ImageDecoder.decode(fileNamed: "link.png", in: folder) }
        #expect(throws: ImageReadError.file(.notRegular("a folder"))) { try ImageDecoder.decode(fileNamed: "sub", in: folder) }
        #expect(throws: ImageReadError.file(.tooLarge(size: png.count, limit: 10))) {
            try ImageDecoder.decode(fileNamed: "ok.png", in: folder, limits: ImageLimits(maxBytes: 10))
        }
        #expect(throws: ImageReadError.self) { try ImageDecoder.decode(fileNamed: "../etc/passwd", in: folder) }
        #expect(ImageReadError.file(.tooLarge(size: 99, limit: 10)).description == "too large: 99 bytes, the limit is 10 bytes")
    }

    /// A job folder with rex/class/dog.png inside, and a folder outside it to link to.
    final class NestedJob {
        let root: URL, job: URL, outside: URL
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("untrusted-nested-\(UUID().uuidString)")
            job = root.appendingPathComponent("job")
            outside = root.appendingPathComponent("outside")
            for dir in [job.appendingPathComponent("rex/class"), outside.appendingPathComponent("class")] {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            }
            let png = try ImageEncoder.png(TestImages.gradient(width: 12, height: 8))
            try Data(png).write(to: job.appendingPathComponent("rex/class/dog.png"))
            try Data(png).write(to: outside.appendingPathComponent("class/secret.png"))
        }
        deinit { try? FileManager.default.removeItem(at: root) }
        func link(_ name: String, to target: URL) throws {
            try FileManager.default.createSymbolicLink(atPath: job.appendingPathComponent(name).path, withDestinationPath: target.path)
        }
    }

    func openError(_ job: URL, _ sub: String) -> String? {
        do { _ = try UntrustedFolder(job: job, subfolder: sub); return nil } catch { return error.message }
    }

    @Test func nestedFolderIsOpenedOneComponentAtATime() throws {
        let j = try NestedJob()
        for name in ["rex/class", "./rex/class/", "rex//class"] {
            let folder = try UntrustedFolder(job: j.job, subfolder: name)
            #expect(folder.displayName == "rex/class/")
            #expect(folder.entries(limit: 10)?.map(\.name) == ["dog.png"])
            #expect(try ImageDecoder.decode(fileNamed: "dog.png", in: folder).image.width == 12)
        }
        #expect(try UntrustedFolder(job: j.job, subfolder: "rex").entries(limit: 10)?.map(\.kind) == [.directory])
    }

    @Test func symlinkAtAnyLevelIsRefused() throws {
        let j = try NestedJob()
        // The last level a link: rex/class → outside/class.
        try FileManager.default.removeItem(at: j.job.appendingPathComponent("rex/class"))
        try j.link("rex/class", to: j.outside.appendingPathComponent("class"))
        #expect(openError(j.job, "rex/class") == "rex/class/ is a symbolic link inside rex/: refused (folders of a job must be real folders)")
        // The first level a link: tom → outside, so tom/class would be outside/class.
        try j.link("tom", to: j.outside)
        #expect(openError(j.job, "tom/class") == "tom/ is a symbolic link inside the job folder: refused (folders of a job must be real folders)")
        // A file where a folder is expected.
        try Data("x".utf8).write(to: j.job.appendingPathComponent("rex/file"))
        #expect(openError(j.job, "rex/file/class") == "rex/file/ is not a folder inside rex/")
        #expect(openError(j.job, "rex/missing")?.hasPrefix("rex/missing/ cannot be opened: it does not exist") == true)
    }

    @Test func parentHiddenAndAbsoluteNamesAreRefusedBeforeOpening() throws {
        let j = try NestedJob()
        // rex/../../outside would reach a real folder if `..` were followed.
        #expect(openError(j.job, "rex/../../outside")?.contains("contains \"..\"") == true)
        #expect(openError(j.job, "..")?.contains("contains \"..\"") == true)
        #expect(openError(j.job, "rex/class/..")?.contains("contains \"..\"") == true)
        #expect(openError(j.job, j.outside.path)?.contains("is an absolute path") == true)
        #expect(openError(j.job, "rex/.git")?.contains("hidden folder \".git\"") == true)
        #expect(openError(j.job, ".")?.contains("not a folder name") == true)
    }
}
