import CSystemd
import Foundation

/// Talks to systemd for a Type=notify unit: READY=1 once the service works, STATUS= with the
/// current job and step (shown by `systemctl status`), WATCHDOG=1 pings while the main loop is
/// alive, STOPPING=1 on shutdown. Without systemd (no NOTIFY_SOCKET) every call does nothing.
public struct SystemdNotifier: Sendable {
    public init() {}

    public var isActive: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func watchdogPing() { send("WATCHDOG=1") }
    public func stopping() { send("STOPPING=1\nSTATUS=stopping") }

    /// The interval at which systemd expects pings (half of WatchdogSec, as sd_watchdog_enabled
    /// advises), or nil when no watchdog is configured for this process.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds / 2))
    }

    private func send(_ state: String) {
        guard isActive else { return }
        _ = sd_notify(0, state)
    }
}
