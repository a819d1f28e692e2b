import Foundation
import Evaluation

/// Everything the report says about one run, gathered from the files the earlier phases left
/// in the work folder (which survive restarts, unlike values in memory). Published as
/// report.json for scripts and rendered as report.html (`ReportHTML`) for people.
public struct RunReport: Codable, Sendable, Equatable {
    public static let htmlFileName = "report.html"
    public static let jsonFileName = "report.json"

    public var job: String
    public var run: String
    public var created: Date
    /// "lora", "dreambooth", "textual_inversion"; nil when neither the plan nor the training
    /// summary said (a report of a run that failed early).
    public var method: String?
    public var dryRun: Bool
    /// recipe.yaml as it was run.
    public var recipe: String?
    /// Seconds per job phase in the order they ran, summed over restarts.
    public var phases: [PhaseTime]
    /// What the training phase recorded; nil for a dry run.
    public var training: TrainingSummary?
    public var preflight: [PreflightFolder]
    /// estimate.txt: the preflight's estimate of time and memory.
    public var estimate: String?
    /// Files that could not be read while gathering the report, said in words.
    public var problems: [String]
    /// The scores of the final samples (evaluation.json); nil when the run was not scored,
    /// and then `evaluationMissing` says why.
    public var evaluation: RunEvaluation?
    public var evaluationMissing: String?
    /// Set when `training.losses` holds every n-th step only (see `thinningLosses`): how many
    /// steps training recorded. training/summary.json keeps them all.
    public var lossPointsRecorded: Int?

    public struct PhaseTime: Codable, Sendable, Equatable {
        public var name: String
        public var seconds: Double
    }

    /// One folder preflight checked (the job folder, a subject's folder or a class folder).
    public struct PreflightFolder: Codable, Sendable, Equatable {
        /// preflight.json or preflight-<folder>.json.
        public var file: String
        /// Relative to the job folder; "" for the job folder itself.
        public var folder: String
        /// contact-sheet*.jpg beside it, when there is one.
        public var contactSheet: String?
        public var accepted: [PreflightReport.AcceptedImage]
        public var rejected: [PreflightReport.RejectedFile]
        public var notes: [String]
        public var problem: String?
    }

    /// Reads the work folder. `phaseSeconds` and `completedPhases` come from the run's
    /// checkpoint; `plan` from the recipe validation (nil when it did not run).
    public static func collect(workDirectory work: String, job: String, run: String,
                               checkpoint: RunCheckpoint, plan: JobPlan?, now: Date = Date()) -> RunReport {
        var problems: [String] = []

        var training: TrainingSummary?
        let summaryPath = work + "/" + TrainingSummary.relativePath
        if FileManager.default.fileExists(atPath: summaryPath) {
            do { training = try AtomicFile.readJSON(TrainingSummary.self, from: summaryPath) } catch {
                problems.append("\(TrainingSummary.relativePath) could not be read: \(error)")
            }
        }

        var preflight: [PreflightFolder] = []
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []).sorted()
        for name in names where name.hasPrefix("preflight") && name.hasSuffix(".json") {
            do {
                let report = try AtomicFile.readJSON(PreflightReport.self, from: work + "/" + name)
                // preflight-<x>.json pairs with contact-sheet-<x>.jpg (PreflightPhase's names).
                let suffix = String(name.dropFirst("preflight".count).dropLast(".json".count))
                let sheet = "contact-sheet\(suffix).jpg"
                preflight.append(PreflightFolder(file: name, folder: report.folder,
                                                 contactSheet: names.contains(sheet) ? sheet : nil,
                                                 accepted: report.accepted, rejected: report.rejected,
                                                 notes: report.notes, problem: report.problem))
            } catch {
                problems.append("\(name) could not be read: \(error)")
            }
        }
        // The job folder first, then subfolders by name.
        preflight.sort { ($0.folder.isEmpty ? 0 : 1, $0.folder) < ($1.folder.isEmpty ? 0 : 1, $1.folder) }

        var evaluation: RunEvaluation?
        var evaluationMissing: String?
        let evaluationPath = work + "/" + RunEvaluation.fileName
        if FileManager.default.fileExists(atPath: evaluationPath) {
            do { evaluation = try AtomicFile.readJSON(RunEvaluation.self, from: evaluationPath) } catch {
                problems.append("\(RunEvaluation.fileName) could not be read: \(error)")
                evaluationMissing = "\(RunEvaluation.fileName) could not be read"
            }
        } else if let reason = readText(work + "/" + RunEvaluation.missingFileName) {
            evaluationMissing = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if plan?.dryRun == true {
            evaluationMissing = "a dry run trains nothing and draws no samples"
        } else {
            evaluationMissing = "the samples were not scored (training did not finish, or the run had no evaluation phase)"
        }

        return RunReport(job: job, run: run, created: now,
                         method: plan?.method ?? training?.method,
                         dryRun: plan?.dryRun ?? (training == nil),
                         recipe: readText(work + "/recipe.yaml"),
                         phases: orderedPhases(checkpoint),
                         training: training, preflight: preflight,
                         estimate: readText(work + "/estimate.txt"),
                         problems: problems, evaluation: evaluation, evaluationMissing: evaluationMissing,
                         lossPointsRecorded: nil)
    }

    /// Validation first (it runs at every start), then the checkpointed phases in the order
    /// they finished, then any others (one in progress, or cheap ones) by name.
    static func orderedPhases(_ checkpoint: RunCheckpoint) -> [PhaseTime] {
        var order: [String] = []
        if checkpoint.phaseSeconds["validate"] != nil { order.append("validate") }
        for name in checkpoint.completedPhases where !order.contains(name) && checkpoint.phaseSeconds[name] != nil {
            order.append(name)
        }
        order += checkpoint.phaseSeconds.keys.filter { !order.contains($0) }.sorted()
        return order.map { PhaseTime(name: $0, seconds: checkpoint.phaseSeconds[$0] ?? 0) }
    }

    private static func readText(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The report with at most `maxPoints` loss points (every n-th step, and the last): a
    /// 100 000-step run would otherwise put megabytes of losses into report.json, which
    /// training/summary.json already holds in full.
    public func thinningLosses(to maxPoints: Int) -> RunReport {
        guard var training, training.losses.count > maxPoints, maxPoints > 1 else { return self }
        var copy = self
        let all = training.losses
        let stride = (all.count + maxPoints - 2) / (maxPoints - 1)
        var kept = Swift.stride(from: 0, to: all.count, by: stride).map { all[$0] }
        if kept.last != all.last { kept.append(all.last!) }
        training.losses = kept
        copy.training = training
        copy.lossPointsRecorded = all.count
        return copy
    }

    /// Every rejected file, with its folder in front when it is not the job folder.
    public var rejectedFiles: [String] {
        preflight.flatMap { folder in
            folder.rejected.map { (folder.folder.isEmpty ? "" : folder.folder + "/") + $0.fileName + ": " + $0.reason }
        }
    }
}
