import Foundation

/// The last phase: writes report.html and report.json into the work folder, from what the
/// earlier phases left there (recipe as run, preflight files, training/summary.json) and the
/// seconds per phase the runner kept in the checkpoint. Cheap, so it runs again after a
/// restart rather than being skipped: the report then includes the time of the last start.
public struct ReportPhase: JobPhase {
    public let name = "report"
    public let skipWhenCompleted = false

    public init() {}

    static let maxLossPointsInJSON = 2000

    public func run(_ context: JobContext) throws {
        let report = RunReport.collect(workDirectory: context.workDirectory, job: context.job, run: context.runId,
                                       checkpoint: context.checkpoint, plan: try? context.plan)
        for problem in report.problems { context.logger.warning("report: \(problem)") }
        // The chart draws every step (it downsamples keeping spikes); the JSON gets a thinned curve.
        try AtomicFile.writeJSON(report.thinningLosses(to: Self.maxLossPointsInJSON), to: context.workDirectory + "/" + RunReport.jsonFileName)
        try AtomicFile.write(Data(ReportHTML.render(report).utf8), to: context.workDirectory + "/" + RunReport.htmlFileName)
    }
}
