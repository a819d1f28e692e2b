#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing

/// systemd is not PID 1 on CI (nor on the developers' containers), so the Type=notify protocol
/// is checked the way systemd sees it: a datagram socket named by NOTIFY_SOCKET, receiving what
/// `serve` and its job processes send.
@Suite struct SystemdNotifyTests {
    @Test func serveSendsReadyStatusWatchdogAndStopping() throws {
        let service = try ServiceHarness()
        try service.addJob("alice")
        let socketPath = service.root + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(socketPath.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)

        // Read while serve runs, as systemd does: a datagram socket's queue is short, and a
        // full queue would block the sender.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let received = Mutex<[String]>([])
        let reading = Atomic<Bool>(true)
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while reading.load(ordering: .relaxed) {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 { received.withLock { $0.append(String(decoding: buffer[0..<n], as: UTF8.self)) } }
            }
        }
        reader.start()
        let serve = try service.startServe(once: true, environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "200000"])
        #expect(service.wait(serve, timeout: 60) == 0, "\(service.serveLogs)")
        usleep(300_000)
        reading.store(false, ordering: .relaxed)
        usleep(200_000)
        let messages = received.withLock { $0 }
        let all = messages.joined(separator: "\n")
        #expect(all.contains("READY=1"))
        #expect(all.contains("WATCHDOG=1"))
        #expect(all.contains("STATUS=running alice"))
        #expect(all.contains("STATUS=alice: preflight"))     // from the job process
        #expect(all.contains("STOPPING=1"))
        let ready = try #require(messages.firstIndex { $0.contains("READY=1") })
        let stopping = try #require(messages.firstIndex { $0.contains("STOPPING=1") })
        #expect(ready < stopping)
    }
}
