#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Diffusion
import Imaging

/// Class images for DreamBooth's prior preservation, generated with the base model once and kept
/// in the state directory, so that the next job for the same class ("a photo of a person", same
/// base model, same size and sampler settings) reuses them instead of spending an hour drawing.
///
/// Layout: `<directory>/<request.cacheKey>/` holds `manifest.json` (what the folder is) and
/// `00000.png`, `00001.png`, ...: image i is drawn with seed i, so any missing image can be
/// redrawn identically and a larger count extends a smaller one. Each PNG is written to a
/// temporary name and renamed: a kill never leaves a half image under a real name.
public final class ClassImageCache {
    /// Bumped when the way images are generated changes; part of every key.
    static let layoutVersion = 1
    static let manifestName = "manifest.json"

    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// A stable name for the base model at `checkpointPath` (a single file or a diffusers folder)
    /// from its files' relative paths, sizes and modification times: reading gigabytes to hash
    /// them would cost minutes per job, and replacing a model changes at least one of those.
    public static func modelIdentity(checkpointPath: String) -> String {
        let url = URL(fileURLWithPath: checkpointPath).standardizedFileURL
        var lines: [String] = []
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            for relative in regularFiles(under: url.path) {
                lines.append(fileLine(relative, at: url.path + "/" + relative))
            }
        } else {
            lines.append(fileLine(url.lastPathComponent, at: url.path))
        }
        let hash = String(StableHash.fnv1a64(lines.joined(separator: "\n")), radix: 16)
        let name = ClassImageRequest.slug(url.deletingPathExtension().lastPathComponent, maxLength: 40)
        return "\(name.isEmpty ? "model" : name)@\(String(repeating: "0", count: 16 - hash.count))\(hash)"
    }

    /// The folder `request`'s images live in.
    public func folder(for request: ClassImageRequest) -> String {
        directory + "/" + request.cacheKey
    }

    /// Paths of `count` class images for `request`, drawing with `pipeline` only those the cache
    /// does not hold yet. `progress(done, count)` is called once before drawing and after each
    /// image. `shouldStop` is asked before each image is drawn; when it says yes, the images
    /// drawn so far are kept and `ClassImageGenerationStopped` is thrown, so the caller can
    /// checkpoint and call again later to finish.
    public func images(for request: ClassImageRequest, count: Int, pipeline: TextToImagePipeline,
                       progress: (Int, Int) -> Void, shouldStop: () -> Bool) throws -> [String] {
        guard count >= 0 else { throw ClassImageError(path: directory, problem: "asked for \(count) class images; expected 0 or more") }
        guard let sampler = SamplerKind(rawValue: request.sampler) else {
            let known = SamplerKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ClassImageError(path: directory, problem: "sampler \"\(request.sampler)\" is not one of \(known)")
        }
        let folder = folder(for: request)
        try prepareFolder(folder, for: request)
        removeStaleTemporaries(in: folder)

        let paths = (0..<count).map { folder + "/" + Self.imageName($0) }
        let missing = paths.indices.filter { !FileManager.default.fileExists(atPath: paths[$0]) }
        var done = count - missing.count
        progress(done, count)
        for index in missing {
            if shouldStop() {
                throw ClassImageGenerationStopped(folder: folder, completed: done, requested: count)
            }
            var generation = TextToImageRequest(prompt: request.prompt)
            generation.negativePrompt = request.negativePrompt
            generation.seed = UInt64(index)
            generation.steps = request.steps
            generation.sampler = sampler
            generation.karras = request.karras
            generation.guidance = Float(request.guidance)
            generation.width = request.resolution
            generation.height = request.resolution
            let result: TextToImageResult
            do { result = try pipeline.generate(generation) } catch {
                throw ClassImageError(path: folder, problem: "drawing class image \(index) for \"\(request.prompt)\": \(error)")
            }
            let png: [UInt8]
            do { png = try ImageEncoder.png(RGBImage(width: result.width, height: result.height, pixels: result.pixels)) } catch {
                throw ClassImageError(path: paths[index], problem: "encoding PNG: \(error)")
            }
            try Self.writeAtomically(Data(png), to: paths[index])
            done += 1
            progress(done, count)
        }
        return paths
    }

    static func imageName(_ index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".png"
    }

    /// Creates the folder with its manifest, or checks that an existing manifest describes the
    /// same request (two requests with one key would mean a hash collision or a hand-edited
    /// folder: mixing their images would silently train on the wrong class).
    private func prepareFolder(_ folder: String, for request: ClassImageRequest) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ClassImageError(path: folder, problem: "cannot create the class image folder: \(error.localizedDescription)")
        }
        let manifestPath = folder + "/" + Self.manifestName
        let decoder = JSONDecoder()
        if let data = FileManager.default.contents(atPath: manifestPath) {
            guard let manifest = try? decoder.decode(ClassImageManifest.self, from: data) else {
                throw ClassImageError(path: manifestPath, problem: "not a readable class image manifest; remove the folder to regenerate its images")
            }
            guard manifest.request == request, manifest.layout == Self.layoutVersion else {
                throw ClassImageError(path: manifestPath, problem: "describes different class images (prompt \"\(manifest.request.prompt)\", model \(manifest.request.modelIdentity)) than asked for (prompt \"\(request.prompt)\", model \(request.modelIdentity)); remove the folder to regenerate")
            }
            return
        }
        let manifest = ClassImageManifest(request: request)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.writeAtomically(try encoder.encode(manifest), to: manifestPath)
    }

    /// Temporary files of writers that are gone (killed mid-write). A temporary name carries its
    /// writer's process id, so a live writer's file in a shared cache is left alone.
    private func removeStaleTemporaries(in folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            let pidText = name.split(separator: "-").dropFirst().first.map(String.init) ?? ""
            if let pid = Int32(pidText), pid != getpid(), kill(pid, 0) == 0 || errno == EPERM { continue }
            unlink(folder + "/" + name)
        }
    }

    /// Writes beside the target under a temporary name, flushes, renames: readers see the old
    /// file or the whole new one.
    static func writeAtomically(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ClassImageError(path: temporary, problem: "cannot create: \(String(cString: strerror(errno)))") }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = "write: \(String(cString: strerror(errno)))"; return }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync: \(String(cString: strerror(errno)))" }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = "rename: \(String(cString: strerror(errno)))" }
        if let failure {
            unlink(temporary)
            throw ClassImageError(path: path, problem: failure)
        }
    }

    private static func regularFiles(under root: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if (relative as NSString).lastPathComponent.hasPrefix(".") { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(relative)
            }
        }
        return files.sorted()
    }

    private static func fileLine(_ name: String, at path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "\(name) missing" }
        return "\(name) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }
}

/// manifest.json in each cache folder: for a person looking at the state directory, and for
/// the cache to check that a folder holds what its name says.
struct ClassImageManifest: Codable {
    var about = "Class images for DreamBooth prior preservation, drawn by dropbooth with the base model. Image NNNNN.png is drawn with seed NNNNN. Safe to delete: missing images are drawn again."
    var layout = ClassImageCache.layoutVersion
    var request: ClassImageRequest
    var created = ISO8601DateFormatter().string(from: Date())
}

public struct ClassImageError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "class images \(path): \(problem)" }
}

/// Thrown when `shouldStop` asked class image generation to stop. The images drawn so far are
/// in the cache; calling `images(for:...)` again continues from `completed`.
public struct ClassImageGenerationStopped: Error, CustomStringConvertible {
    public let folder: String
    public let completed: Int
    public let requested: Int
    public var description: String { "class image generation stopped after \(completed) of \(requested) images in \(folder); they are kept and the rest are drawn when the job resumes" }
}
