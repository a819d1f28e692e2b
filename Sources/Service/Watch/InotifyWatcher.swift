import CInotifyTools
import Foundation
import Synchronization

/// Watches the inbox recursively with libinotifytools and calls `nudge` when anything changes.
/// It never decides anything: the daemon answers a nudge by scanning (the scan is the truth),
/// so a missed event only delays a job until the next periodic rescan. When the kernel's event
/// queue overflows (IN_Q_OVERFLOW) events were lost; the nudge then asks for a full rescan.
///
/// libinotifytools keeps global state, so there is one watcher per process, on its own thread.
public final class InotifyWatcher: Sendable {
    public enum Nudge: Sendable { case changed, overflow }

    private let inbox: String
    private let nudge: @Sendable (Nudge) -> Void
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    private let log: @Sendable (String) -> Void

    private static let events = Int32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE
                                      | IN_DELETE_SELF | IN_ATTRIB | IN_MODIFY)

    public init(inbox: String, log: @escaping @Sendable (String) -> Void, nudge: @escaping @Sendable (Nudge) -> Void) {
        self.inbox = inbox; self.nudge = nudge; self.log = log
    }

    /// Starts the watching thread. False when inotify is unavailable (the limit on watches, a
    /// filesystem without it): the service then relies on rescans alone.
    @discardableResult
    public func start() -> Bool {
        guard inotifytools_initialize() != 0 else {
            log("inotify unavailable (\(String(cString: strerror(inotifytools_error())))); relying on periodic rescans")
            return false
        }
        guard inotifytools_watch_recursively(inbox, Self.events) != 0 else {
            log("cannot watch \(inbox) (\(String(cString: strerror(inotifytools_error())))); relying on periodic rescans")
            return false
        }
        started.store(true, ordering: .relaxed)
        let thread = Thread { [self] in
            self.loop()
            self.finished.signal()
        }
        thread.name = "inbox-watcher"
        thread.start()
        return true
    }

    /// Stops watching; returns once the thread has left libinotifytools (within about a second).
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        if started.exchange(false, ordering: .relaxed) { finished.wait() }
    }

    private func loop() {
        while !stopped.load(ordering: .relaxed) {
            // One second at most, so that stop() is noticed.
            guard let event = inotifytools_next_event(1) else { continue }
            let mask = Int32(bitPattern: event.pointee.mask)
            if mask & Int32(IN_Q_OVERFLOW) != 0 {
                nudge(.overflow)
                continue
            }
            // New folders (a job being copied in) need watches of their own.
            if mask & Int32(IN_ISDIR) != 0 && mask & Int32(IN_CREATE | IN_MOVED_TO) != 0 {
                var name: UnsafePointer<CChar>?
                var directoryLength = 0
                if let directory = inotifytools_filename_from_event(event, &name, &directoryLength), let name {
                    var path = String(cString: directory)
                    if !path.hasSuffix("/") { path += "/" }
                    _ = inotifytools_watch_recursively(path + String(cString: name), Self.events)
                }
            }
            nudge(.changed)
        }
    }
}
