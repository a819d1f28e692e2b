import Foundation

/// What `dropbooth status` prints: the running job with a progress bar and ETA, the queue, and
/// recent results. Built from the state directory (the daemon's runs) and each run's
/// status.json (the child's progress), so it works whether or not the daemon is up.
public struct StatusOverview {
    public let config: ServiceConfig
    public var recentCount = 8

    public init(config: ServiceConfig) { self.config = config }

    public func render(now: Date = Date()) throws -> String {
        let store = try RunStore(stateDirectory: config.stateDirectory, create: false)
        let layout = OutboxLayout(outbox: config.outbox)
        func status(_ r: RunRecord) -> JobStatus? { JobStatus.read(runDirectory: layout.runDirectory(job: r.job, run: r.runId)) }
        let time = DateFormatter()
        time.dateFormat = "yyyy-MM-dd HH:mm"

        var lines = ["dropbooth: inbox \(config.inbox), outbox \(config.outbox)"]
        let daemonUp = RunLock.isHeld(path: Daemon.lockPath(config)) ?? false
        lines.append(daemonUp ? "service: running" : "service: not running (jobs wait until `dropbooth serve` starts)")
        if let quiet = config.quietHours {
            let window = String(format: "%02d:%02d–%02d:%02d", quiet.startMinute / 60, quiet.startMinute % 60, quiet.endMinute / 60, quiet.endMinute % 60)
            lines.append("jobs run between \(window) (\(config.jobsMayRun(at: now) ? "now open" : "now closed: jobs wait"))")
        }
        let running = store.all.filter { $0.state == .running }
        lines.append("")
        lines.append("Running")
        if running.isEmpty { lines.append("  nothing") }
        for record in running {
            var line = "  \(record.job)  run \(record.runId)" + (daemonUp ? "" : "  (interrupted; resumes on start)")
            if let s = status(record) {
                line += "  \(s.phase)"
                if s.total > 0 { line += "  \(ProgressBar.render(step: s.step, total: s.total))  step \(s.step)/\(s.total)" }
                if let loss = s.loss { line += String(format: "  loss %.4f", loss) }
                if let eta = s.eta { line += "  ETA \(ProgressBar.duration(eta.timeIntervalSince(now))) (\(time.string(from: eta)))" }
            }
            lines.append(line)
        }
        let waiting = store.pending.filter { $0.state != .running }
        lines.append("")
        lines.append("Queue (\(waiting.count))")
        if waiting.isEmpty { lines.append("  empty") }
        for (index, record) in waiting.enumerated() {
            var line = "  \(index + 1). \(record.job)  run \(record.runId)  "
            if record.state == .paused, let s = status(record) {
                line += "paused in \(s.phase)" + (s.total > 0 ? " at \(s.step)/\(s.total)" : "")
            } else {
                line += "queued \(time.string(from: record.queuedAt))"
            }
            lines.append(line)
        }
        let finished = store.all.filter { $0.state == .succeeded || $0.state == .failed }
            .sorted { ($0.finishedAt ?? .distantPast) > ($1.finishedAt ?? .distantPast) }
            .prefix(recentCount)
        lines.append("")
        lines.append("Recent results")
        if finished.isEmpty { lines.append("  none yet") }
        for record in finished {
            let when = record.finishedAt.map { time.string(from: $0) } ?? ""
            let folder = layout.runDirectory(job: record.job, run: record.runId)
            if record.state == .succeeded {
                lines.append("  ok      \(record.job)  \(when)  \(folder)/")
            } else {
                let reason = (record.error ?? "failed").split(separator: "\n").first.map(String.init) ?? ""
                lines.append("  FAILED  \(record.job)  \(when)  \(reason)  (see \(folder)/error.txt)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
