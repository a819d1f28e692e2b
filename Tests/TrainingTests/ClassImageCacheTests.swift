import Foundation
import Testing
import Diffusion
@testable import Training
import TestSupport

/// The class image cache on the tiny SD 1.x model, drawing 32 px images in one unguided step
/// (a debug build draws slowly; what is tested is the cache, not the pipeline).
@Suite(.serialized)
struct ClassImageCacheTests {
    static let modelFolder = TestFixtures.path("models/sd1-tiny")

    let pipeline: TextToImagePipeline
    let directory: String

    init() throws {
        pipeline = try TextToImagePipeline(checkpoint: try StableDiffusionCheckpoint.open(Self.modelFolder))
        directory = NSTemporaryDirectory() + "class-images-\(UUID().uuidString)"
    }

    func request(_ prompt: String = "a photo of a person", resolution: Int = 32) -> ClassImageRequest {
        ClassImageRequest(modelIdentity: ClassImageCache.modelIdentity(checkpointPath: Self.modelFolder),
                          prompt: prompt, negativePrompt: "blurry", resolution: resolution,
                          steps: 1, guidance: 1, sampler: "euler")
    }

    func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

    func modificationDate(_ path: String) throws -> Date {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
    }

    @Test func generatesPNGsAndAManifest() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = ClassImageCache(directory: directory)
        var reports: [[Int]] = []
        let paths = try cache.images(for: request(), count: 2, pipeline: pipeline,
                                     progress: { reports.append([$0, $1]) }, shouldStop: { false })
        #expect(paths.count == 2)
        #expect(reports == [[0, 2], [1, 2], [2, 2]])
        for path in paths {
            #expect(path.hasPrefix(cache.folder(for: request()) + "/"))
            #expect(Array(bytes(path).prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        }
        // Seeds differ per image, so the images do too.
        #expect(bytes(paths[0]) != bytes(paths[1]))
        let manifest = try JSONDecoder().decode(ClassImageManifest.self, from: bytes(cache.folder(for: request()) + "/manifest.json"))
        #expect(manifest.request == request())
        // Nothing temporary is left beside the images.
        let names = try FileManager.default.contentsOfDirectory(atPath: cache.folder(for: request()))
        #expect(names.sorted() == ["00000.png", "00001.png", "manifest.json"])
    }

    @Test func secondCallReusesWithoutDrawing() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try ClassImageCache(directory: directory).images(for: request(), count: 2, pipeline: pipeline,
                                                                     progress: { _, _ in }, shouldStop: { false })
        let dates = try first.map(modificationDate)
        // A new cache object (a later job): shouldStop is only asked before drawing an image,
        // so a stop request that does not throw proves nothing was drawn.
        var asked = 0
        var reports: [[Int]] = []
        let second = try ClassImageCache(directory: directory).images(for: request(), count: 2, pipeline: pipeline,
                                                                      progress: { reports.append([$0, $1]) },
                                                                      shouldStop: { asked += 1; return true })
        #expect(second == first)
        #expect(asked == 0)
        #expect(reports == [[2, 2]])
        #expect(try second.map(modificationDate) == dates)
    }

    @Test func differentPromptOrSizeGetsItsOwnFolder() throws {
        let person = request("a photo of a person"), dog = request("a photo of a dog"), large = request(resolution: 48)
        #expect(person.cacheKey != dog.cacheKey)
        #expect(person.cacheKey != large.cacheKey)
        #expect(person.cacheKey.hasPrefix("a-photo-of-a-person-32px-"))
        var otherModel = person
        otherModel.modelIdentity = "other@0000000000000000"
        #expect(otherModel.cacheKey != person.cacheKey)

        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = ClassImageCache(directory: directory)
        let a = try cache.images(for: person, count: 1, pipeline: pipeline, progress: { _, _ in }, shouldStop: { false })
        let b = try cache.images(for: dog, count: 1, pipeline: pipeline, progress: { _, _ in }, shouldStop: { false })
        #expect((a[0] as NSString).deletingLastPathComponent != (b[0] as NSString).deletingLastPathComponent)
        #expect(bytes(a[0]) != bytes(b[0]))
    }

    @Test func partialFolderIsCompletedDeterministically() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = ClassImageCache(directory: directory)
        // A job stopped after one image (as on SIGTERM): the error says how far it got.
        var drawn = 0
        #expect {
            _ = try cache.images(for: request(), count: 2, pipeline: pipeline,
                                 progress: { done, _ in drawn = done }, shouldStop: { drawn >= 1 })
        } throws: { error in
            guard let stopped = error as? ClassImageGenerationStopped else { return false }
            return stopped.completed == 1 && stopped.requested == 2
        }
        let folder = cache.folder(for: request())
        #expect(FileManager.default.fileExists(atPath: folder + "/00000.png"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/00001.png"))
        let firstDate = try modificationDate(folder + "/00000.png")

        // A writer killed mid-image leaves only a hidden temporary, which the next call removes.
        let stale = folder + "/.00001.png.tmp-999999999-1"
        _ = FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3]))

        var reports: [[Int]] = []
        let paths = try cache.images(for: request(), count: 2, pipeline: pipeline,
                                     progress: { reports.append([$0, $1]) }, shouldStop: { false })
        #expect(reports == [[1, 2], [2, 2]])
        #expect(try modificationDate(paths[0]) == firstDate)
        #expect(!FileManager.default.fileExists(atPath: stale))

        // Image i is drawn with seed i: a deleted image comes back byte for byte.
        let original = bytes(paths[1])
        try FileManager.default.removeItem(atPath: paths[1])
        _ = try cache.images(for: request(), count: 2, pipeline: pipeline, progress: { _, _ in }, shouldStop: { false })
        #expect(bytes(paths[1]) == original)
    }

    @Test func modelIdentityFollowsTheFiles() throws {
        let copy = NSTemporaryDirectory() + "class-images-model-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        let file = copy + "/model.safetensors"
        try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: file))
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: file)

        let folderIdentity = ClassImageCache.modelIdentity(checkpointPath: copy)
        #expect(ClassImageCache.modelIdentity(checkpointPath: copy) == folderIdentity)
        let fileIdentity = ClassImageCache.modelIdentity(checkpointPath: file)
        #expect(fileIdentity.hasPrefix("model@"))
        #expect(fileIdentity != folderIdentity)

        try FileManager.default.setAttributes([.modificationDate: date.addingTimeInterval(60)], ofItemAtPath: file)
        #expect(ClassImageCache.modelIdentity(checkpointPath: copy) != folderIdentity)
        #expect(ClassImageCache.modelIdentity(checkpointPath: file) != fileIdentity)
    }

    @Test func mismatchedManifestIsRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = ClassImageCache(directory: directory)
        _ = try cache.images(for: request(), count: 0, pipeline: pipeline, progress: { _, _ in }, shouldStop: { false })
        var other = ClassImageManifest(request: request("something else"))
        other.created = "2020-01-01T00:00:00Z"
        try JSONEncoder().encode(other).write(to: URL(fileURLWithPath: cache.folder(for: request()) + "/manifest.json"))
        #expect(throws: ClassImageError.self) {
            _ = try cache.images(for: request(), count: 1, pipeline: pipeline, progress: { _, _ in }, shouldStop: { false })
        }
    }
}
