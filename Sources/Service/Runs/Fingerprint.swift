#if canImport(Glibc)
import Glibc
#endif

/// What identifies a run: SHA-256 over the recipe's bytes and every input file of the job
/// folder (relative name, size, contents). Saving a changed recipe or photo makes a new run;
/// touching a file or copying the same folder again does not.
public struct Fingerprint: Sendable, Equatable {
    public let hex: String

    /// The run id: short enough for a folder name, long enough never to collide within a job.
    public var runId: String { String(hex.prefix(16)) }

    /// Files larger than `maxContentBytes` are not read (the job will reject them anyway, and
    /// a 50 GB file dropped in the inbox must not cost 50 GB of reading): their name, size and
    /// modification time stand for them.
    public static func of(job snapshot: JobSnapshot, maxContentBytes: Int64 = .max) throws -> Fingerprint {
        var hash = SHA256()
        hash.update("dropbooth-run-v1\n")
        for file in snapshot.files {
            hash.update(length: UInt64(file.path.utf8.count))
            hash.update(file.path)
            if file.size > maxContentBytes {
                hash.update("unread")
                hash.update(length: UInt64(file.size))
                hash.update(length: UInt64(bitPattern: file.modified))
                continue
            }
            let path = snapshot.directory + "/" + file.path
            let size = try feed(path, into: &hash)
            hash.update(length: UInt64(size))
        }
        return Fingerprint(hex: SHA256.hex(hash.finalize()))
    }

    /// A cheap key for "this folder looks exactly as before" (names, sizes, times), so that a
    /// restart does not read every photo again to learn that nothing changed.
    public static func stampKey(of snapshot: JobSnapshot) -> String {
        var hash = SHA256()
        for file in snapshot.files {
            hash.update(length: UInt64(file.path.utf8.count))
            hash.update(file.path)
            hash.update(length: UInt64(bitPattern: file.size))
            hash.update(length: UInt64(bitPattern: file.modified))
        }
        return SHA256.hex(hash.finalize())
    }

    /// Streams one file into the hash; O_NOFOLLOW so a file swapped for a symlink after the
    /// scan is refused rather than followed.
    private static func feed(_ path: String, into hash: inout SHA256) throws -> Int {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.system("read \(path)", errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw FileError.system("read \(path)", errno) }
            if n == 0 { break }
            hash.update(buffer[0..<n])
            total += n
        }
        return total
    }
}
