#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An exclusive advisory lock on a file (flock). One run is worked on by one process at a time:
/// after the daemon is killed, its orphaned child may still be checkpointing when the restarted
/// daemon starts the same run again; the new child waits here until the old one is gone.
/// The kernel drops the lock when the holder dies, however it dies.
public final class RunLock {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Tries to take the lock until `timeout` seconds have passed; nil if another process holds it.
    public static func acquire(path: String, timeout: Double) throws -> RunLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.system("open lock \(path)", errno) }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if Date() >= deadline { close(fd); return nil }
            usleep(50_000)
        }
        return RunLock(fd: fd)
    }

    /// Whether some process holds the lock now (for `status`: is the daemon up?). Only looks:
    /// the probe is a shared lock, dropped at once. Nil when the lock file does not exist.
    public static func isHeld(path: String) -> Bool? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0
    }

    deinit { close(fd) }
}
