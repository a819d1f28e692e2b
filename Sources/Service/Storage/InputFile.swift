#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reads a file from the inbox the careful way: never through a symlink (O_NOFOLLOW), only
/// regular files, and never more than `limit` bytes (checked before reading).
public enum InputFile {
    public enum Problem: Error, CustomStringConvertible {
        case unreadable(String, String)
        case notARegularFile(String)
        case tooLarge(String, Int, Int)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): return "\(path) cannot be read: \(reason)"
            case .notARegularFile(let path): return "\(path) is not a regular file (symbolic links are not followed)"
            case .tooLarge(let path, let size, let limit): return "\(path) is \(size) bytes; the limit is \(limit) bytes"
            }
        }
    }

    public static func read(_ path: String, limit: Int) throws -> Data {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw errno == ELOOP ? Problem.notARegularFile(path) : Problem.unreadable(path, String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw Problem.notARegularFile(path) }
        guard Int(info.st_size) <= limit else { throw Problem.tooLarge(path, Int(info.st_size), limit) }
        var data = Data(count: Int(info.st_size))
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { if errno == EINTR { continue }; throw Problem.unreadable(path, String(cString: strerror(errno))) }
            if n == 0 { break }
            offset += n
        }
        return data.prefix(offset)
    }
}
