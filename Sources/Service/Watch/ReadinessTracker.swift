/// Decides when a job folder is ready: it holds a recipe, no upload is in progress, and the
/// snapshot (names, sizes, modification times) has not changed for `settleSeconds` of our own
/// observation. File times alone cannot tell: `cp -p` and `rsync -a` copy old times onto new
/// files, and a remote machine's clock may be off. So the clock that counts is the service's,
/// from the moment it first saw the folder in its present state.
public struct ReadinessTracker: Sendable {
    public var settleSeconds: Double
    private var seen: [String: (snapshot: JobSnapshot, since: Double)] = [:]

    public init(settleSeconds: Double) { self.settleSeconds = settleSeconds }

    /// Records what a scan saw at `now` (seconds on a monotonic clock) and returns the jobs that
    /// are ready. Folders that vanished are forgotten.
    public mutating func observe(_ snapshots: [JobSnapshot], now: Double) -> [JobSnapshot] {
        var present = Set<String>()
        var ready: [JobSnapshot] = []
        for snapshot in snapshots {
            present.insert(snapshot.name)
            if let previous = seen[snapshot.name], previous.snapshot == snapshot {
                if snapshot.isComplete && now - previous.since >= settleSeconds { ready.append(snapshot) }
            } else {
                seen[snapshot.name] = (snapshot, now)
            }
        }
        for name in seen.keys where !present.contains(name) { seen[name] = nil }
        return ready
    }

    /// Folders with a recipe that are still settling: the daemon looks again soon.
    public var settling: [String] {
        seen.values.filter { $0.snapshot.hasRecipe }.map(\.snapshot.name).sorted()
    }

    /// Updates one folder without forgetting the others (a tick that only rescans settling jobs).
    public mutating func observe(one snapshot: JobSnapshot, now: Double) -> Bool {
        if let previous = seen[snapshot.name], previous.snapshot == snapshot {
            return snapshot.isComplete && now - previous.since >= settleSeconds
        }
        seen[snapshot.name] = (snapshot, now)
        return false
    }
}
