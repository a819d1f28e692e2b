#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Publishes one run into the outbox without ever showing a half-written file:
///  - while the run works, `outbox/<job>/<run>/` holds only status.json, replaced atomically;
///  - artefacts are made in the run's staging folder (same filesystem);
///  - at the end the staging folder, complete with the final status.json, takes the place of
///    the live folder in one rename (an exchange of the two directories).
public struct RunPublisher: Sendable {
    public let layout: OutboxLayout
    public let job: String
    public let run: String

    public init(outbox: String, job: String, run: String) {
        layout = OutboxLayout(outbox: outbox); self.job = job; self.run = run
    }

    public var liveDirectory: String { layout.runDirectory(job: job, run: run) }
    public var stagingDirectory: String { layout.stagingDirectory(job: job, run: run) }

    /// Makes sure the staging folder exists and the run is visible with `status`.
    public func open(_ status: JobStatus) throws {
        try Directories.create(stagingDirectory)
        if access(liveDirectory, F_OK) == 0 {
            try updateStatus(status)
            OutboxIndex.refresh(outbox: layout.outbox)     // queued → running, paused → running
            return
        }
        // A fresh folder with its status.json inside appears in one rename.
        let fresh = stagingDirectory + ".new"
        try removeTree(fresh)
        try Directories.create(fresh)
        try AtomicFile.writeJSON(status, to: fresh + "/" + JobStatus.fileName)
        try Directories.create(layout.jobDirectory(job))
        guard rename(fresh, liveDirectory) == 0 else { throw FileError.system("publish \(liveDirectory)", errno) }
        AtomicFile.syncDirectory(layout.jobDirectory(job))
        OutboxIndex.refresh(outbox: layout.outbox)
    }

    public func updateStatus(_ status: JobStatus) throws {
        try AtomicFile.writeJSON(status, to: liveDirectory + "/" + JobStatus.fileName)
    }

    /// The last step of a run: the staging folder becomes the run folder.
    public func publish(_ status: JobStatus) throws {
        try Directories.create(stagingDirectory)
        try AtomicFile.writeJSON(status, to: stagingDirectory + "/" + JobStatus.fileName)
        try Directories.create(layout.jobDirectory(job))
        if access(liveDirectory, F_OK) == 0 {
            if DirectoryExchange.exchange(stagingDirectory, liveDirectory) {
                try removeTree(stagingDirectory)          // now holds the old, status-only folder
            } else {
                let old = stagingDirectory + ".old"
                try removeTree(old)
                guard rename(liveDirectory, old) == 0 else { throw FileError.system("move aside \(liveDirectory)", errno) }
                guard rename(stagingDirectory, liveDirectory) == 0 else { throw FileError.system("publish \(liveDirectory)", errno) }
                try removeTree(old)
            }
        } else {
            guard rename(stagingDirectory, liveDirectory) == 0 else { throw FileError.system("publish \(liveDirectory)", errno) }
        }
        AtomicFile.syncDirectory(layout.jobDirectory(job))
        rmdir(layout.stagingRoot + "/" + job)     // tidy: only succeeds when no other run of the job is staged
        OutboxIndex.refresh(outbox: layout.outbox)
    }

    /// Publishes a failed run: error.txt in plain words next to whatever the run produced.
    public func publishFailure(_ message: String, status: JobStatus) throws {
        try Directories.create(stagingDirectory)
        let text = "The job '\(job)' (run \(run)) failed.\n\n\(message)\n"
        try AtomicFile.write(Data(text.utf8), to: stagingDirectory + "/error.txt")
        try publish(status)
    }

    /// Takes back a run that never started (superseded by a newer one): its folder held only
    /// the queued status. Moved out in one rename, then deleted.
    public func withdraw() throws {
        guard access(liveDirectory, F_OK) == 0 else { return }
        let old = stagingDirectory + ".withdrawn"
        try removeTree(old)
        try Directories.create(layout.stagingRoot + "/" + job)
        guard rename(liveDirectory, old) == 0 else { throw FileError.system("withdraw \(liveDirectory)", errno) }
        try removeTree(old)
        try removeTree(stagingDirectory)
        OutboxIndex.refresh(outbox: layout.outbox)
    }

    private func removeTree(_ path: String) throws {
        guard access(path, F_OK) == 0 else { return }
        try FileManager.default.removeItem(atPath: path)
    }
}
