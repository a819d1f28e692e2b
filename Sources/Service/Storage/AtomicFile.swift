#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Files that readers (people browsing the share, `dropbooth status`, a restarted daemon) must
/// never see half-written: the bytes go to a temporary name beside the target, are flushed to
/// the disk, and replace the target with one rename. A crash leaves either the old or the new
/// file, never a mixture.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError.system("create \(temporary)", errno) }
        var failure: FileError?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = .system("write \(temporary)", errno); return }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = .system("fsync \(temporary)", errno) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = .system("rename to \(path)", errno) }
        if let failure { unlink(temporary); throw failure }
        syncDirectory(directory)
    }

    /// A rename is durable only once the directory holding the new name is on disk.
    public static func syncDirectory(_ directory: String) {
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    public static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try write(encoder.encode(value), to: path)
    }

    public static func readJSON<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// A failed system call, said in words: what we tried, on which path, and the system's reason.
public enum FileError: Error, CustomStringConvertible {
    case system(String, Int32)
    public var description: String {
        switch self {
        case .system(let what, let code): return "\(what): \(String(cString: strerror(code)))"
        }
    }
}

public enum Directories {
    /// `mkdir -p`, failing with the path and the system's reason.
    public static func create(_ path: String, mode: mode_t = 0o755) throws {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, mode) != 0 && errno != EEXIST { throw FileError.system("create directory \(partial)", errno) }
        }
    }
}
