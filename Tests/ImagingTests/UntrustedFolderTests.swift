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
}
