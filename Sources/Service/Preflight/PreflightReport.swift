import Foundation

/// What preflight found in one job folder (or its class/ folder). Plain data: the job runner
/// publishes it as JSON beside the contact sheet, and turns `problem` into error.txt.
public struct PreflightReport: Sendable, Codable, Equatable {
    /// One image training will use.
    public struct AcceptedImage: Sendable, Codable, Equatable {
        /// File name inside the scanned folder (no directories).
        public var fileName: String
        /// "jpeg" or "png", from the file's magic bytes.
        public var format: String
        /// As stored, before EXIF orientation.
        public var storedWidth: Int
        public var storedHeight: Int
        /// After EXIF orientation: what a viewer shows, and what training starts from.
        public var width: Int
        public var height: Int
        /// EXIF orientation tag 1...8 (1 when absent).
        public var exifOrientation: Int
        /// From `<photo>.txt` (or `<photo.ext>.txt`), trimmed; nil when there is none.
        public var caption: String?
    }

    /// A file that was looked at and will not be used, with the reason in plain words.
    public struct RejectedFile: Sendable, Codable, Equatable {
        public var fileName: String
        public var reason: String
    }

    /// The folder scanned, relative to the job folder ("" for the job root).
    public var folder: String
    public var accepted: [AcceptedImage] = []
    public var rejected: [RejectedFile] = []
    /// Things worth telling the user that are not rejections (ignored caption, crop mode, …).
    public var notes: [String] = []
    /// True when at least `minImages` images are usable and the folder itself was acceptable.
    public var ok: Bool { problem == nil }
    /// Why the job cannot go on, in plain words; nil when it can.
    public var problem: String?
    /// A JPEG of every accepted image as training will see it, file name under each tile.
    /// Not part of the JSON form (it is published as its own file).
    public var contactSheetJPEG: Data?
    public var estimate: RunEstimate?

    public init(folder: String) { self.folder = folder }

    enum CodingKeys: String, CodingKey { case folder, accepted, rejected, notes, problem, estimate }
}

extension PreflightReport {
    /// The report as pretty JSON (sorted keys, stable across runs), with `ok` spelled out for
    /// readers that do not know that a missing `problem` means success.
    public func jsonData() throws -> Data {
        struct Published: Encodable {
            var ok: Bool
            var report: PreflightReport
            func encode(to encoder: Encoder) throws {
                try report.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(ok, forKey: .ok)
            }
            enum Key: String, CodingKey { case ok }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(Published(ok: ok, report: self))
    }

    /// Plain words for the log and error.txt: what was accepted, what was rejected and why.
    /// File names are printed as they are; an HTML report must escape them.
    public func summary() -> String {
        let place = folder.isEmpty ? "job folder" : "\(folder)/"
        var lines = ["\(place): \(accepted.count) image(s) accepted, \(rejected.count) file(s) rejected"]
        if let problem { lines.append("problem: \(problem)") }
        for r in rejected { lines.append("  rejected \(r.fileName): \(r.reason)") }
        for n in notes { lines.append("  note: \(n)") }
        if let estimate {
            let hours = estimate.seconds / 3600
            let gb = Double(estimate.peakMemoryBytes) / 1e9
            lines.append(String(format: "  estimate: about %.1f hour(s), about %.1f GB of memory", hours, gb) + " (\(estimate.formula))")
        }
        return lines.joined(separator: "\n")
    }
}
