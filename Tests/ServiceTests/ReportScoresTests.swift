import Evaluation
import Foundation
import Logging
import Testing
@testable import Service

/// The report's "Scores": evaluation.json's numbers in a table (base beside trained when the
/// run drew base samples), or the reason from evaluation-missing.txt; user text escaped.
@Suite struct ReportScoresTests {
    let work = TemporaryDirectory()

    func report() throws -> (RunReport, String) {
        try FileManager.default.createDirectory(atPath: work.path + "/training", withIntermediateDirectories: true)
        try AtomicFile.writeJSON(TrainingSummary(method: "lora", baseModel: "default", baseModelPath: "/m", steps: 2, totalSteps: 2,
                                                 images: 8, classImages: 0),
                                 to: work.path + "/" + TrainingSummary.relativePath)
        let report = RunReport.collect(workDirectory: work.path, job: "j", run: "r", checkpoint: RunCheckpoint(), plan: nil)
        return (report, ReportHTML.render(report))
    }

    static func evaluation(base: Bool) -> RunEvaluation {
        RunEvaluation(measure: "world", subjectFidelityName: "CLIP-I", promptFidelityName: "CLIP-T", trainingImages: 8,
                      trained: .init(images: 4, subjectFidelity: 0.8125, promptFidelity: 0.3125, kid: 0.000125),
                      base: base ? .init(images: 4, subjectFidelity: 0.5625, promptFidelity: nil, kid: 0.25) : nil,
                      notes: ["a note <b>"])
    }

    @Test func showsBaseAndTrainedScores() throws {
        try AtomicFile.writeJSON(Self.evaluation(base: true), to: work.path + "/" + RunEvaluation.fileName)
        let (report, html) = try report()
        #expect(report.evaluation == Self.evaluation(base: true) && report.evaluationMissing == nil)
        #expect(html.contains("<h2>Scores</h2>") && html.contains("<th>base model</th><th>trained</th>"))
        #expect(html.contains(#"<td>CLIP-I <small>(higher is closer to the subject)</small></td><td class="num">0.5625</td><td class="num">0.8125</td>"#))
        #expect(html.contains(#"<td class="num">–</td><td class="num">0.3125</td>"#))   // no base prompt fidelity
        // Significant digits, not fixed decimals: a CLIP-space KID of 1.25e-4 must not print as 0.0000.
        #expect(html.contains(#"<td class="num">0.25</td><td class="num">0.000125</td>"#))
        #expect(html.contains("a note &lt;b&gt;") && !html.contains("a note <b>"))
        // report.json carries the same numbers under "evaluation".
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        let trained = (json?["evaluation"] as? [String: Any])?["trained"] as? [String: Any]
        #expect(trained?["subjectFidelity"] as? Double == 0.8125 && json?["evaluationMissing"] == nil)
    }

    @Test func withoutBaseSamplesOnlyTheTrainedColumn() throws {
        try AtomicFile.writeJSON(Self.evaluation(base: false), to: work.path + "/" + RunEvaluation.fileName)
        let (_, html) = try report()
        #expect(!html.contains("<th>base model</th>") && html.contains("<th>trained</th>"))
    }

    @Test func aMissingEvaluationShowsItsReason() throws {
        work.write(RunEvaluation.missingFileName, "the base model /m has no dropbooth.json <x>\n")
        let (report, html) = try report()
        #expect(report.evaluation == nil && report.evaluationMissing == "the base model /m has no dropbooth.json <x>")
        #expect(html.contains("Not scored: the base model /m has no dropbooth.json &lt;x&gt;."))
    }

    @Test func aRunWithoutEitherFileSaysItWasNotScored() throws {
        let (report, _) = try report()
        #expect(report.evaluationMissing?.contains("not scored") == true)
    }
}
