import Foundation
import Testing
import Imaging
@testable import Service

/// Preflight on temporary job folders: good images pass, each kind of bad file is rejected
/// with its reason, and nothing outside the folder is ever read.
@Suite struct PreflightTests {
    /// A fresh job folder under the temp directory, removed at the end of the test.
    final class TempJob {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("preflight-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
        func write(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: url.appendingPathComponent(name)) }
        func write(_ name: String, _ text: String) throws { try write(name, Array(text.utf8)) }
        func mkdir(_ name: String) throws {
            try FileManager.default.createDirectory(at: url.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        func symlink(_ name: String, to target: String) throws {
            try FileManager.default.createSymbolicLink(atPath: url.appendingPathComponent(name).path, withDestinationPath: target)
        }
    }

    static func photo(width: Int, height: Int, seed: Int = 0) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = (UInt8((x * 255 / width + seed * 40) % 256), UInt8(y * 255 / height), UInt8(seed * 60 % 256))
            }
        }
        return image
    }

    static func options(resolution: Int = 64) -> PreflightOptions {
        var o = PreflightOptions()
        o.resolution = resolution
        o.contactSheetTileSize = 48
        return o
    }

    static func reason(_ report: PreflightReport, _ name: String) -> String? {
        report.rejected.first { $0.fileName == name }?.reason
    }

    @Test func badCorpusIsRejectedWithReasonsWhileGoodImagesPass() throws {
        let job = try TempJob()
        // Good ones: a JPEG, a PNG, a rotated JPEG, each with or without a caption.
        try job.write("a-good.jpg", try ImageEncoder.jpeg(Self.photo(width: 120, height: 80), quality: 90))
        try job.write("b-good.png", try ImageEncoder.png(Self.photo(width: 70, height: 90, seed: 1)))
        try job.write("a-good.jpg.txt", "  a photo of sks toy \n")
        try job.write("b-good.txt", "sks toy on grass")
        // A PNG named .jpg: sniffed by bytes, accepted.
        try job.write("c-really-png.jpg", try ImageEncoder.png(Self.photo(width: 200, height: 64, seed: 2)))

        // The bad corpus.
        try job.write("zero.jpg", [])
        let jpeg = try ImageEncoder.jpeg(Self.photo(width: 96, height: 96, seed: 3), quality: 90)
        try job.write("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2)))
        let png = try ImageEncoder.png(Self.photo(width: 96, height: 96, seed: 4))
        try job.write("truncated.png", Array(png.prefix(png.count / 2)))
        var generator = SystemRandomNumberGenerator()
        try job.write("random.jpg", [0x42] + (0..<2000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try job.write("bomb.png", Self.pngDeclaring(width: 80_000, height: 80_000))
        try job.write("notes.jpg", "these are my notes, not a photo\n")
        try job.write("readme.md", "# my job\n")
        try job.symlink("passwd.jpg", to: "/etc/passwd")
        try job.symlink("link-to-good.jpg", to: job.url.appendingPathComponent("a-good.jpg").path)
        try job.mkdir("x.jpg")
        #expect(mkfifo(job.url.appendingPathComponent("pipe.jpg").path, 0o600) == 0)

        // Ignored silently or with a note, never rejected.
        try job.write("recipe.yaml", "method: lora\n")
        try job.write(".DS_Store", [0, 1, 2])
        try job.write("._a-good.jpg", [0, 1, 2])
        try job.write("upload.jpg.part", [0xFF, 0xD8])
        try job.write("big.jpg.crdownload", [0xFF, 0xD8])
        try job.write("edit.jpg~", [0xFF, 0xD8])
        try job.mkdir("class")

        let report = Preflight.run(jobDirectory: job.url, options: Self.options())
        #expect(report.ok, "problem: \(report.problem ?? "")")
        #expect(report.accepted.map(\.fileName) == ["a-good.jpg", "b-good.png", "c-really-png.jpg"])
        #expect(report.accepted[0].caption == "a photo of sks toy")
        #expect(report.accepted[1].caption == "sks toy on grass")
        #expect(report.accepted[2].caption == nil && report.accepted[2].format == "png")
        #expect(report.accepted[0].width == 120 && report.accepted[0].height == 80)

        #expect(report.rejected.map(\.fileName) == [
            "bomb.png", "link-to-good.jpg", "notes.jpg", "passwd.jpg", "pipe.jpg", "random.jpg",
            "readme.md", "truncated.jpg", "truncated.png", "x.jpg", "zero.jpg",
        ])
        #expect(Self.reason(report, "zero.jpg") == "empty file (zero bytes)")
        #expect(Self.reason(report, "truncated.jpg")?.hasPrefix("truncated") == true)
        #expect(Self.reason(report, "truncated.png")?.hasPrefix("truncated") == true)
        #expect(Self.reason(report, "random.jpg") == "not an image (neither JPEG nor PNG)")
        #expect(Self.reason(report, "bomb.png") == "too large: 80000x80000 = 6400000000 pixels, the limit is 50000000")
        #expect(Self.reason(report, "notes.jpg") == "not a JPEG or PNG image (looks like text)")
        #expect(Self.reason(report, "passwd.jpg")?.hasPrefix("symbolic link") == true)
        #expect(Self.reason(report, "link-to-good.jpg")?.hasPrefix("symbolic link") == true)
        #expect(Self.reason(report, "x.jpg")?.hasPrefix("a folder") == true)
        #expect(Self.reason(report, "pipe.jpg")?.contains("named pipe") == true)
        #expect(report.notes.contains { $0.contains("upload.jpg.part") && $0.contains("edit.jpg~") })
        #expect(report.notes.contains { $0.hasPrefix("the square crop keeps less than half of: c-really-png.jpg (200x64)") })

        // The contact sheet is a JPEG of three 48 px tiles in one row.
        let sheet = try ImageDecoder.decode(Array(try #require(report.contactSheetJPEG))).image
        #expect(sheet.width == 8 + 3 * (48 + 8))
        #expect(sheet.height > 48 + 16)
        #expect(report.estimate != nil)

        // Published forms: JSON with ok, and a plain summary naming each rejected file.
        let json = try #require(try JSONSerialization.jsonObject(with: report.jsonData()) as? [String: Any])
        #expect(json["ok"] as? Bool == true)
        #expect((json["rejected"] as? [Any])?.count == 11)
        #expect(json["contactSheetJPEG"] == nil)
        #expect(report.summary().contains("rejected zero.jpg: empty file (zero bytes)"))

        // Deterministic: a second run gives the same report (contact sheet bytes included).
        let again = Preflight.run(jobDirectory: job.url, options: Self.options())
        #expect(again == report)

        // With buckets no square crop loses the panorama: that note gives way to the buckets one.
        var bucketed = Self.options()
        bucketed.buckets = true
        let notes = Preflight.run(jobDirectory: job.url, options: bucketed).notes
        #expect(!notes.contains { $0.hasPrefix("the square crop keeps") })
        #expect(notes.contains { $0.hasPrefix("buckets are on: each photo trains at its own shape (about 64x64 pixels in area)") })
    }

    @Test func tooFewUsableImagesFailsTheJobWithAPlainReason() throws {
        let job = try TempJob()
        try job.write("only.jpg", try ImageEncoder.jpeg(Self.photo(width: 64, height: 64), quality: 90))
        try job.write("broken.jpg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 16])
        var options = Self.options()
        options.minImages = 2
        let report = Preflight.run(jobDirectory: job.url, options: options)
        #expect(!report.ok)
        #expect(report.problem == "only 1 usable image(s) in the job folder, at least 2 needed; 1 file(s) were rejected, see the list")
    }

    @Test func limitsOnCountBytesPixelsAndEntries() throws {
        let job = try TempJob()
        for i in 0..<4 {
            try job.write("img\(i).png", try ImageEncoder.png(Self.photo(width: 40 + i * 30, height: 40 + i * 30, seed: i)))
        }
        var options = Self.options()
        options.maxImages = 2
        var report = Preflight.run(jobDirectory: job.url, options: options)
        #expect(report.accepted.map(\.fileName) == ["img0.png", "img1.png"])
        #expect(Self.reason(report, "img3.png")?.contains("limit of 2 images") == true)

        options = Self.options()
        options.maxImagePixels = 80 * 80
        report = Preflight.run(jobDirectory: job.url, options: options)
        #expect(report.accepted.count == 2)
        #expect(Self.reason(report, "img2.png") == "too large: 100x100 = 10000 pixels, the limit is 6400")

        options = Self.options()
        options.maxImageBytes = 200
        report = Preflight.run(jobDirectory: job.url, options: options)
        #expect(report.rejected.allSatisfy { $0.reason.hasPrefix("too large:") && $0.reason.hasSuffix("the limit is 200 bytes") })

        options = Self.options(resolution: 0)
        #expect(Preflight.run(jobDirectory: job.url, options: options).problem == "resolution 0 is outside 8...8192 pixels")

        options = Self.options()
        options.maxDirectoryEntries = 3
        report = Preflight.run(jobDirectory: job.url, options: options)
        #expect(report.problem == "the job folder holds more than 3 entries; a job may hold at most that many files")
        #expect(report.accepted.isEmpty)
    }

    @Test func classFolderAndUnsafeSubfolders() throws {
        let job = try TempJob()
        try job.write("me.jpg", try ImageEncoder.jpeg(Self.photo(width: 64, height: 64), quality: 90))
        try job.mkdir("class")
        try job.write("class/dog1.jpg", try ImageEncoder.jpeg(Self.photo(width: 64, height: 80, seed: 5), quality: 90))
        try job.write("class/dog2.png", try ImageEncoder.png(Self.photo(width: 90, height: 64, seed: 6)))

        var options = Self.options()
        options.subfolder = "class"
        let report = Preflight.run(jobDirectory: job.url, options: options)
        #expect(report.ok && report.folder == "class")
        #expect(report.accepted.map(\.fileName) == ["dog1.jpg", "dog2.png"])

        for (bad, why) in [("..", "contains \"..\""), ("../etc", "contains \"..\""), ("class/../..", "contains \"..\""),
                           ("/etc", "is an absolute path"), (".hidden", "hidden folder")] {
            options.subfolder = bad
            let problem = Preflight.run(jobDirectory: job.url, options: options).problem
            #expect(problem?.contains(why) == true, "\(bad): \(problem ?? "accepted")")
        }
        // class/ as a symlink to somewhere else is refused.
        let other = try TempJob()
        try other.symlink("class", to: job.url.appendingPathComponent("class").path)
        options.subfolder = "class"
        #expect(Preflight.run(jobDirectory: other.url, options: options).problem == "class/ is a symbolic link inside the job folder: refused (folders of a job must be real folders)")
        // The job folder itself as a symlink is refused.
        let linkJob = FileManager.default.temporaryDirectory.appendingPathComponent("preflight-link-\(UUID().uuidString)")
        try FileManager.default.createSymbolicLink(at: linkJob, withDestinationURL: job.url)
        defer { try? FileManager.default.removeItem(at: linkJob) }
        let linked = Preflight.run(jobDirectory: linkJob, options: Self.options())
        #expect(linked.problem?.contains("cannot be opened") == true)
    }

    @Test func captionsAreCappedAndMustBeText() throws {
        let job = try TempJob()
        for name in ["a.jpg", "b.jpg", "c.jpg"] {
            try job.write(name, try ImageEncoder.jpeg(Self.photo(width: 64, height: 64), quality: 90))
        }
        try job.write("a.txt", String(repeating: "long ", count: 2000))
        try job.write("b.txt", [0xFF, 0xFE, 0x00, 0x41])
        try job.symlink("c.txt", to: "/etc/hostname")
        let report = Preflight.run(jobDirectory: job.url, options: Self.options())
        #expect(report.accepted.count == 3 && report.accepted.allSatisfy { $0.caption == nil })
        #expect(report.notes.contains { $0.hasPrefix("caption a.txt ignored: too large") })
        #expect(report.notes.contains("caption b.txt ignored: not UTF-8 text"))
        #expect(report.notes.contains { $0.hasPrefix("caption c.txt ignored: symbolic link") })
    }

    @Test func bundledSamplesPass() throws {
        let samples = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("samples")
        var options = Self.options(resolution: 128)
        options.minImages = 5
        let report = Preflight.run(jobDirectory: samples, options: options)
        #expect(report.ok, "\(report.problem ?? "")")
        #expect(report.rejected.isEmpty, "\(report.rejected)")
        let rotated = try #require(report.accepted.first { $0.fileName == "toy-phone-rotated.jpg" })
        #expect(rotated.exifOrientation == 6 && rotated.width == 576 && rotated.height == 768)
        #expect(report.accepted.first { $0.fileName == "toy-kitchen.jpg" }?.caption == "a photo of sks toy on a kitchen floor")
        #expect(report.accepted.allSatisfy { min($0.width, $0.height) >= 512 }, "samples must not need upscaling at 512 px")
    }

    @Test func estimateGrowsWithWork() {
        var plan = TrainingPlan()
        let base = RunEstimate(plan: plan, resolution: 512, imageCount: 10, cores: 4)
        plan.steps *= 2
        #expect(RunEstimate(plan: plan, resolution: 512, imageCount: 10, cores: 4).seconds > base.seconds * 1.5)
        plan.method = .dreambooth
        #expect(RunEstimate(plan: plan, resolution: 512, imageCount: 10, cores: 4).peakMemoryBytes > base.peakMemoryBytes + 8_000_000_000)
        #expect(base.formula.contains("rough"))
    }

    /// The estimate is for the base model's size: its parameter counts and level widths come
    /// from its checkpoint (the default model's UNet: 1,534,084 parameters, counted with
    /// Python's safetensors; widths 32/64/64 in its config.json, three VAE levels: 4x).
    @Test func estimateFollowsTheBaseModelsSize() throws {
        var plan = TrainingPlan()
        let sd = RunEstimate(plan: plan, resolution: 512, imageCount: 5, cores: 2)
        let defaultModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("models/default").path
        try PreflightPhase.describeBaseModel(at: defaultModel, in: &plan)
        #expect(plan.unetParameters == 1_534_084)
        #expect(plan.unetBlockChannels == [32, 64, 64])
        #expect(plan.vaeDownscale == 4)
        let small = RunEstimate(plan: plan, resolution: 512, imageCount: 5, cores: 2)
        #expect(sd.peakMemoryBytes > 4 << 30, "SD 1.x's float32 weights alone are 4.3 GB")
        #expect(small.peakMemoryBytes < 512 << 20)
        #expect(small.seconds < sd.seconds / 20)
        #expect(small.formula.contains("UNet 1.5M"), "\(small.formula)")
        #expect(throws: (any Error).self) { try PreflightPhase.describeBaseModel(at: "/nonexistent/model", in: &plan) }
    }

    /// See ImagingTests: a tiny PNG declaring a huge size.
    static func pngDeclaring(width: Int, height: Int) -> [UInt8] {
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for b in bytes { crc ^= UInt32(b); for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) } }
            return ~crc
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            be32(data.count) + Array(type.utf8) + data + be32(Int(crc32(Array(type.utf8) + data)))
        }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", be32(width) + be32(height) + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]) + chunk("IEND", [])
    }
}
