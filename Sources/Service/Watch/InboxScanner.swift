#if canImport(Glibc)
import Glibc
#endif

/// One file of a job folder as the scan saw it. Size and modification time together tell
/// whether a slow copy is still writing.
public struct FileStamp: Hashable, Sendable, Codable {
    public var path: String          // relative to the job folder
    public var size: Int64
    public var modified: Int64       // nanoseconds since the epoch
}

/// A job folder at one moment: what readiness compares between scans.
public struct JobSnapshot: Equatable, Sendable {
    public var name: String
    public var directory: String
    public var files: [FileStamp]            // sorted by path, ignored names left out
    public var hasRecipe: Bool
    public var partialUploads: [String]      // names that say an upload is in progress
    public var refusedEntries: [String]      // symlinks and special files: never read

    public var isComplete: Bool { hasRecipe && partialUploads.isEmpty }
}

/// A folder in the inbox that cannot be a job, and why.
public struct RefusedFolder: Equatable, Sendable {
    public var name: String
    public var reason: String
}

public struct InboxScan: Sendable {
    public var jobs: [JobSnapshot]
    public var refused: [RefusedFolder]
}

/// Reads the inbox tree. The watcher only says "look again"; this scan is what the service
/// believes, so that inotify events, periodic rescans (NFS/SMB) and an event-queue overflow all
/// end in the same place. Symlinks are never followed: a job folder or a file inside one that
/// is a symlink could point anywhere on the machine.
public struct InboxScanner: Sendable {
    public static let recipeFileName = "recipe.yaml"
    /// Bounds on what one job folder may hold, so a hostile tree cannot stall the scan.
    public var maxEntriesPerJob = 20_000
    public var maxDepth = 4
    public let inbox: String

    public init(inbox: String) { self.inbox = inbox }

    public func scan() -> InboxScan {
        var jobs: [JobSnapshot] = []
        var refused: [RefusedFolder] = []
        for name in Self.list(inbox).sorted() where !IgnoredNames.isIgnored(name) {
            let path = inbox + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            if kind == S_IFLNK {
                refused.append(RefusedFolder(name: name, reason: "'\(name)' is a symbolic link; copy the folder itself into the inbox"))
                continue
            }
            guard kind == S_IFDIR else { continue }     // loose files in the inbox are not jobs
            if let problem = JobName.problem(with: name) {
                refused.append(RefusedFolder(name: name, reason: problem))
                continue
            }
            jobs.append(snapshot(job: name))
        }
        return InboxScan(jobs: jobs, refused: refused)
    }

    /// The current state of one job folder.
    public func snapshot(job name: String) -> JobSnapshot {
        let directory = inbox + "/" + name
        var result = JobSnapshot(name: name, directory: directory, files: [], hasRecipe: false,
                                 partialUploads: [], refusedEntries: [])
        walk(directory, relative: "", depth: 0, into: &result)
        result.files.sort { $0.path < $1.path }
        result.hasRecipe = result.files.contains { $0.path == Self.recipeFileName }
        return result
    }

    private func walk(_ directory: String, relative: String, depth: Int, into result: inout JobSnapshot) {
        for name in Self.list(directory).sorted() {
            if result.files.count + result.refusedEntries.count >= maxEntriesPerJob { return }
            let relativePath = relative.isEmpty ? name : relative + "/" + name
            if IgnoredNames.isPartialUpload(name) { result.partialUploads.append(relativePath); continue }
            if IgnoredNames.isIgnored(name) { continue }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                result.files.append(FileStamp(
                    path: relativePath, size: Int64(info.st_size),
                    modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
            case S_IFDIR where depth < maxDepth:
                walk(directory + "/" + name, relative: relativePath, depth: depth + 1, into: &result)
            default:
                result.refusedEntries.append(relativePath)
            }
        }
    }

    /// Entry names of a directory, without "." and "..". Empty when it cannot be read.
    static func list(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
