import Foundation
import Evaluation

/// report.html: one self-contained page (inline CSS and SVG; images by relative path, so the
/// run folder can be copied anywhere) that tells the job's owner what ran, how training went,
/// what came out and how to use it. Every piece of user text goes through `HTMLText.escape`.
public enum ReportHTML {
    public static func render(_ report: RunReport) -> String {
        var body = header(report)
        if !report.problems.isEmpty {
            body += section("Problems while writing this report", list(report.problems.map(HTMLText.escape)))
        }
        if let training = report.training {
            body += lossSection(training)
            if !training.grids.isEmpty { body += gridsSection(training.grids) }
            body += scoresSection(report)
            if !training.outputs.isEmpty { body += outputsSection(training.outputs) }
        }
        body += timingsSection(report)
        body += preflightSection(report)
        if let recipe = report.recipe {
            body += section("Recipe as run", "<pre>\(HTMLText.escape(recipe))</pre>")
        }
        let title = "dropbooth report: \(report.job) / \(report.run)"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTMLText.escape(title))</title>
            <style>\(style)</style></head>
            <body>
            \(body)
            <footer>Written by dropbooth on \(ISO8601DateFormatter().string(from: report.created)). The same facts are in report.json.</footer>
            </body></html>

            """
    }

    static let style = """
        body{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#222;line-height:1.45}\
        h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}\
        .lead{color:#444;margin-top:0}table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left;vertical-align:top}\
        td.num{text-align:right;font-variant-numeric:tabular-nums}.bar{background:#9ab8e6;height:.7rem;display:inline-block}\
        pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap}figure{margin:1rem 0}\
        figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#444;font-size:.95rem}\
        .problem{color:#a00}.note{color:#555}footer{margin-top:2rem;color:#777;font-size:.85rem}
        """

    static func methodName(_ method: String?) -> String {
        switch method {
        case "lora": return "LoRA"
        case "dreambooth": return "DreamBooth"
        case "textual_inversion": return "Textual inversion"
        case let other?: return other
        case nil: return "Unknown method"
        }
    }

    static func header(_ report: RunReport) -> String {
        var facts: [String] = []
        if let t = report.training {
            facts.append("\(methodName(t.method)) on <b>\(HTMLText.escape(t.baseModel))</b>")
            facts.append(t.steps == t.totalSteps ? "\(t.steps) steps" : "\(t.steps) of \(t.totalSteps) steps")
            facts.append("\(t.images) image\(t.images == 1 ? "" : "s")")
            if t.classImages > 0 { facts.append("\(t.classImages) class image\(t.classImages == 1 ? "" : "s") for prior preservation") }
        } else {
            let accepted = report.preflight.reduce(0) { $0 + $1.accepted.count }
            facts.append("\(methodName(report.method)): \(report.dryRun ? "dry run, preflight only" : "no training results")")
            facts.append("\(accepted) usable image\(accepted == 1 ? "" : "s")")
        }
        let total = report.phases.reduce(0) { $0 + $1.seconds }
        if total > 0 { facts.append("\(ProgressBar.duration(total)) in all") }
        return "<h1>\(HTMLText.escape(report.job)) <small>run \(HTMLText.escape(report.run))</small></h1>\n"
            + "<p class=\"lead\">\(facts.joined(separator: " · "))</p>\n"
            + (report.training?.baseModelPath.isEmpty == false
               ? "<p class=\"note\">Base model files: <code>\(HTMLText.escape(report.training!.baseModelPath))</code></p>\n" : "")
    }

    static func lossSection(_ training: TrainingSummary) -> String {
        let chart = LossChart(points: training.losses.map { LossChart.Point(step: $0.step, loss: $0.loss) })
        var text = ""
        let finite = training.losses.filter { $0.loss.isFinite }
        if let last = finite.last {
            let tail = finite.suffix(max(1, finite.count / 10))
            let mean = tail.reduce(0) { $0 + $1.loss } / Double(tail.count)
            text = String(format: "<p>%d steps recorded; mean loss over the last %d: %.4f (learning rate at the end: %.3g).</p>",
                          training.losses.count, tail.count, mean, last.learningRate)
        }
        if finite.count < training.losses.count {
            text += "<p class=\"problem\">\(training.losses.count - finite.count) step(s) had a loss that was not a number and are not drawn.</p>"
        }
        return section("Loss", "<p class=\"note\">Light: the loss of each step. Dark: its moving average. Diffusion losses depend mostly on the random timestep, so the average shows the trend.</p>\n"
                       + chart.svg() + "\n" + text)
    }

    static func gridsSection(_ grids: [TrainingSummary.Grid]) -> String {
        // The final grid (the one comparing against the base model, if any) first: it is the
        // answer to "did it work"; intermediate ones follow in the order they were drawn.
        let ordered = grids.filter(\.comparesBase).reversed() + grids.filter { !$0.comparesBase }
        let figures = ordered.map { grid in
            "<figure><a href=\"\(HTMLText.relativeLink(grid.file))\"><img src=\"\(HTMLText.relativeLink(grid.file))\" alt=\"\(HTMLText.escape(grid.title))\"></a>"
                + "<figcaption>\(HTMLText.escape(grid.title))</figcaption></figure>"
        }
        return section("Samples", figures.joined(separator: "\n"))
    }

    static func outputsSection(_ outputs: [TrainingSummary.Output]) -> String {
        let items = outputs.map { output in
            "<h3><a href=\"\(HTMLText.relativeLink(output.file))\">\(HTMLText.escape(output.file))</a> <small>(\(HTMLText.escape(output.format)))</small></h3>\n"
                + "<p>\(HTMLText.escape(output.description))</p>\n<pre>\(HTMLText.escape(output.usage))</pre>"
        }
        return section("Outputs and how to use them", items.joined(separator: "\n"))
    }

    static func timingsSection(_ report: RunReport) -> String {
        var html = ""
        if !report.phases.isEmpty {
            html += "<h3>Job phases</h3>" + timingTable(report.phases.map { ($0.name, $0.seconds) })
        }
        if let parts = report.training?.seconds, !parts.isEmpty {
            let known = ["class_images", "cache", "train", "samples", "export"]
            let names = known.filter { parts[$0] != nil } + parts.keys.filter { !known.contains($0) }.sorted()
            html += "<h3>Training</h3>" + timingTable(names.map { (trainingPartName($0), parts[$0]!) })
        }
        guard !html.isEmpty else { return "" }
        return section("Time", html)
    }

    static func trainingPartName(_ key: String) -> String {
        switch key {
        case "class_images": return "class images"
        case "cache": return "caching latents and text"
        case "train": return "training steps"
        case "samples": return "sample grids"
        case "export": return "export"
        default: return key
        }
    }

    /// Name, duration and a bar proportional to the longest row.
    static func timingTable(_ rows: [(String, Double)]) -> String {
        let longest = max(rows.map(\.1).max() ?? 0, 1e-9)
        let lines = rows.map { name, seconds in
            let width = Int((seconds / longest * 240).rounded())
            return "<tr><td>\(HTMLText.escape(name))</td><td class=\"num\">\(ProgressBar.duration(seconds))</td>"
                + "<td><span class=\"bar\" style=\"width:\(width)px\"></span></td></tr>"
        }
        return "<table>\(lines.joined(separator: "\n"))</table>\n"
    }

    static func preflightSection(_ report: RunReport) -> String {
        var html = ""
        for folder in report.preflight {
            let place = folder.folder.isEmpty ? "Job folder" : "Folder \(folder.folder)/"
            html += "<h3>\(HTMLText.escape(place)): \(folder.accepted.count) image\(folder.accepted.count == 1 ? "" : "s") used, \(folder.rejected.count) rejected</h3>\n"
            if let problem = folder.problem { html += "<p class=\"problem\">\(HTMLText.escape(problem))</p>\n" }
            if !folder.notes.isEmpty { html += list(folder.notes.map(HTMLText.escape)) }
            if let sheet = folder.contactSheet {
                html += "<figure><a href=\"\(HTMLText.relativeLink(sheet))\"><img src=\"\(HTMLText.relativeLink(sheet))\" alt=\"contact sheet\"></a>"
                    + "<figcaption>The images as training sees them (after orientation, resize and crop).</figcaption></figure>\n"
            }
            let captioned = folder.accepted.filter { $0.caption != nil }
            if !captioned.isEmpty {
                let rows = captioned.map { "<tr><td>\(HTMLText.escape($0.fileName))</td><td>\(HTMLText.escape($0.caption ?? ""))</td></tr>" }
                html += "<details><summary>Captions (\(captioned.count))</summary><table>\(rows.joined(separator: "\n"))</table></details>\n"
            }
        }
        let rejected = report.rejectedFiles
        html += "<h3>Rejected files</h3>\n"
        html += rejected.isEmpty ? "<p>No files were rejected.</p>\n" : list(rejected.map(HTMLText.escape))
        if let estimate = report.estimate {
            html += "<h3>Estimate before training</h3><pre>\(HTMLText.escape(estimate))</pre>\n"
        }
        return section("Preflight", html)
    }

    static func section(_ title: String, _ content: String) -> String {
        "<section><h2>\(HTMLText.escape(title))</h2>\n\(content)\n</section>\n"
    }

    static func list(_ escapedItems: [String]) -> String {
        "<ul>" + escapedItems.map { "<li>\($0)</li>" }.joined() + "</ul>\n"
    }

    /// Subject fidelity, prompt fidelity and KID of the base and the trained model's samples,
    /// or why there are none.
    static func scoresSection(_ report: RunReport) -> String {
        guard let e = report.evaluation else {
            let reason = report.evaluationMissing ?? "the samples were not scored"
            return section("Scores", "<p class=\"note\">Not scored: \(HTMLText.escape(reason)).</p>")
        }
        // Four significant digits, not four decimals: KID in CLIP space is of the order of 1e-4.
        func cell(_ v: Double?) -> String { "<td class=\"num\">" + (v.map { String(format: "%.4g", $0) } ?? "–") + "</td>" }
        let hasBase = e.base != nil
        func row(_ name: String, _ better: String, _ b: Double?, _ t: Double?) -> String {
            "<tr><td>\(HTMLText.escape(name)) <small>(\(better))</small></td>" + (hasBase ? cell(b) : "") + cell(t) + "</tr>"
        }
        var html = "<p class=\"note\">The final samples measured against the \(e.trainingImages) training photo(s) "
            + "with the base model's measure, <b>\(HTMLText.escape(e.measure))</b>: subject fidelity is the mean cosine similarity "
            + "of the samples' features to the photos', prompt fidelity how well each sample shows its prompt, "
            + "KID the kernel inception distance between the two sets of features.</p>\n<table>"
        html += "<tr><th></th>" + (hasBase ? "<th>base model</th>" : "") + "<th>trained</th></tr>"
        html += row(e.subjectFidelityName, "higher is closer to the subject", e.base?.subjectFidelity, e.trained.subjectFidelity)
        html += row(e.promptFidelityName, "higher follows the prompt better", e.base?.promptFidelity, e.trained.promptFidelity)
        html += row("KID vs training photos", "lower is closer", e.base?.kid, e.trained.kid)
        html += "</table>"
        // Per prompt: which prompts the training helped or hurt.
        if e.trained.prompts.count > 1 || e.base?.prompts.isEmpty == false {
            html += "<h3>Per prompt</h3><table><tr><th>prompt</th>"
                + (hasBase ? "<th>base: subject</th><th>base: prompt</th>" : "") + "<th>trained: subject</th><th>trained: prompt</th></tr>"
            for p in e.trained.prompts {
                let b = e.base?.prompts.first { $0.prompt == p.prompt }
                html += "<tr><td>\(HTMLText.escape(p.prompt))</td>"
                    + (hasBase ? cell(b?.subjectFidelity) + cell(b?.promptFidelity) : "")
                    + cell(p.subjectFidelity) + cell(p.promptFidelity) + "</tr>"
            }
            html += "</table>"
        }
        if !e.notes.isEmpty { html += list(e.notes.map(HTMLText.escape)) }
        return section("Scores", html)
    }
}
