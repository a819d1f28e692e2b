import Foundation

/// The first phase of every job (and the whole job with `dry_run: true`): decode every image
/// exactly as training will, and tell the user what the model will see and what was refused.
public enum Preflight {
    /// Scans `jobDirectory` (or its `options.subfolder`), never following symlinks or leaving
    /// the folder, and returns accepted images, rejected files with reasons, a contact sheet
    /// and a run estimate. Never throws: every problem is in the report (`problem` when the
    /// job cannot go on). Deterministic: files are taken in byte order of their names.
    public static func run(jobDirectory: URL, options: PreflightOptions) -> PreflightReport {
        var report = PreflightReport(folder: options.subfolder ?? "")
        report.problem = "preflight is not implemented yet"
        return report
    }
}
