import Foundation

/// `outbox/index.html`: one page for people browsing the share, listing every run with its
/// status and links to what it produced. Rebuilt from the outbox itself (status.json files)
/// after each publish, so it can never disagree with the folders for long.
public enum OutboxIndex {
    public static func refresh(outbox: String) {
        try? AtomicFile.write(Data(html(outbox: outbox).utf8), to: outbox + "/index.html")
    }

    struct Row {
        var job: String
        var run: String
        var status: JobStatus?
        var links: [String]
    }

    static func rows(outbox: String) -> [Row] {
        var rows: [Row] = []
        for job in InboxScanner.list(outbox) where !job.hasPrefix(".") && JobName.problem(with: job) == nil {
            let jobDirectory = outbox + "/" + job
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: jobDirectory, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for run in InboxScanner.list(jobDirectory) where !run.hasPrefix(".") {
                let runDirectory = jobDirectory + "/" + run
                // The report first: it is the page that explains everything else in the run.
                var links: [String] = FileManager.default.fileExists(atPath: runDirectory + "/" + RunReport.htmlFileName)
                    ? [RunReport.htmlFileName] : []
                for name in InboxScanner.list(runDirectory).sorted() where !name.hasPrefix(".") {
                    if name == "samples" {
                        links += InboxScanner.list(runDirectory + "/samples").sorted().filter(isImage).map { "samples/" + $0 }
                    } else if isImage(name) || ["error.txt", "log.txt", "rejected.txt", "estimate.txt"].contains(name) {
                        links.append(name)
                    }
                }
                rows.append(Row(job: job, run: run, status: JobStatus.read(runDirectory: runDirectory), links: links))
            }
        }
        return rows.sorted { ($0.status?.updated ?? .distantPast) > ($1.status?.updated ?? .distantPast) }
    }

    static func isImage(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") || lower.hasSuffix(".png")
    }

    public static func html(outbox: String) -> String {
        let formatter = ISO8601DateFormatter()
        var body = ""
        for row in rows(outbox: outbox) {
            let base = escape(path(row.job) + "/" + path(row.run))
            let state = row.status.map { $0.state.rawValue } ?? "unknown"
            var detail = row.status.map { s in s.total > 0 ? "\(s.phase) \(s.step)/\(s.total)" : s.phase } ?? ""
            if let error = row.status?.error { detail += " — " + error }
            let links = row.links.map { "<a href=\"\(base)/\(escape(path($0)))\">\(escape($0))</a>" }.joined(separator: " ")
            let thumbs = row.links.filter(isImage).prefix(4).map {
                "<a href=\"\(base)/\(escape(path($0)))\"><img src=\"\(base)/\(escape(path($0)))\" alt=\"\(escape($0))\"></a>"
            }.joined()
            body += """
            <tr class="\(state)"><td>\(escape(row.job))</td><td><a href="\(base)/">\(escape(row.run))</a></td>\
            <td>\(state)</td><td>\(escape(detail))</td>\
            <td>\(row.status.map { formatter.string(from: $0.updated) } ?? "")</td><td>\(links)<br>\(thumbs)</td></tr>

            """
        }
        return """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>dropbooth outbox</title>
        <style>body{font-family:sans-serif}td{padding:4px 8px;vertical-align:top}img{height:96px;margin:2px}
        .failed td:nth-child(3){color:#b00}.succeeded td:nth-child(3){color:#070}</style></head>
        <body><h1>dropbooth outbox</h1>
        <table><tr><th>job</th><th>run</th><th>status</th><th>detail</th><th>updated</th><th>results</th></tr>
        \(body)</table></body></html>

        """
    }

    static func escape(_ text: String) -> String { HTMLText.escape(text) }

    /// Percent-encodes a relative link so that names with spaces or '#' still work.
    static func path(_ text: String) -> String { HTMLText.percentEncodedPath(text) }
}
