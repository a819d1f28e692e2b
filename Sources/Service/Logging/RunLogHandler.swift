#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// Appends a run's log lines to its `log.txt` (published with the results). Each record is one
/// write(2) on an O_APPEND descriptor, so lines from a resumed run follow the earlier ones and
/// never interleave mid-line.
public struct RunLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let file: LogFile

    final class LogFile: @unchecked Sendable {
        let fd: Int32
        init(path: String) { fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) }
        deinit { if fd >= 0 { close(fd) } }
    }

    public init(path: String) { file = LogFile(path: path) }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard file.fd >= 0 else { return }
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: .current,
                                               formatOptions: [.withInternetDateTime])
        let line = "\(time) \(event.level.rawValue.uppercased()) \(event.message)\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(file.fd, $0.baseAddress, $0.count) }
    }
}
