#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading a document from disk the careful way: documents sit on shares anyone may write, so
/// the size is checked before reading, only regular files are read, and (for job files) a
/// symlink is refused rather than followed out of the job folder.
public enum YAMLFile {
    public static func load(path: String, limits: YAMLLimits = YAMLLimits(), followSymlinks: Bool = false) throws(YAMLError) -> YAMLNode {
        try YAMLParser.parse(bytes: contents(path: path, maxBytes: limits.maxBytes, followSymlinks: followSymlinks), limits: limits)
    }

    public static func contents(path: String, maxBytes: Int, followSymlinks: Bool = false) throws(YAMLError) -> [UInt8] {
        let start = YAMLMark(line: 1, column: 1)
        var flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK  // O_NONBLOCK: a FIFO must not hang us
        if !followSymlinks { flags |= O_NOFOLLOW }
        let fd = open(path, flags)
        guard fd >= 0 else {
            let code = errno
            let reason = code == ELOOP ? "it is a symbolic link, which is not followed" : String(cString: strerror(code))
            throw YAMLError(.unreadable, "cannot open the file: \(reason)", at: start)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw YAMLError(.unreadable, "not a regular file", at: start)
        }
        guard Int(info.st_size) <= maxBytes else {
            throw YAMLError(.tooLarge, "the file is \(info.st_size) bytes; the limit is \(maxBytes) bytes", at: start)
        }
        // Read up to one byte past the limit: the file may have grown since fstat.
        var bytes = [UInt8](repeating: 0, count: maxBytes + 1)
        var total = 0
        while total < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                throw YAMLError(.unreadable, "cannot read the file: \(String(cString: strerror(errno)))", at: start)
            }
            if n == 0 { break }
            total += n
        }
        guard total <= maxBytes else {
            throw YAMLError(.tooLarge, "the file is over the limit of \(maxBytes) bytes", at: start)
        }
        return Array(bytes[..<total])
    }
}
