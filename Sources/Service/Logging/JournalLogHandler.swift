#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import Foundation
import Logging

/// Sends log records to the systemd journal as structured entries. The job and run become the
/// fields JOB_ID= and RUN_ID=, so `journalctl -u dropbooth JOB_ID=alice-portraits` shows one
/// job's story. (sd_journal_send is variadic, which Swift cannot call; sd_journal_sendv is the
/// same call with an array.)
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(event.level))",
            "SYSLOG_IDENTIFIER=dropbooth",
            "DROPBOOTH_LOGGER=\(label)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        if let error = event.error { fields.append("DROPBOOTH_ERROR=\(error)") }
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            fields.append("\(Self.fieldName(key))=\(value)")
        }
        // Each field in its own C string: the pointers stay valid for the whole call.
        let strings = fields.map { strdup($0)! }
        defer { strings.forEach { free($0) } }
        let vectors = strings.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0)) }
        _ = sd_journal_sendv(vectors, Int32(vectors.count))
    }

    /// Journal field names are upper-case letters, digits and underscores; "job" and "run" get
    /// the names operators filter on.
    static func fieldName(_ key: String) -> String {
        switch key {
        case "job": return "JOB_ID"
        case "run": return "RUN_ID"
        default:
            let cleaned = String(key.uppercased().map { ($0.isLetter && $0.isASCII) || $0.isNumber ? $0 : "_" })
            return "DROPBOOTH_" + cleaned
        }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}
