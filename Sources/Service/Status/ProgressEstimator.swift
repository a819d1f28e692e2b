import Foundation

/// Turns "step n of N" into an ETA from the pace since the phase started (or resumed: steps
/// done before a restart say nothing about this machine's pace now).
public struct ProgressEstimator: Sendable {
    private var origin: (step: Int, time: Date)?

    public init() {}

    public mutating func eta(step: Int, total: Int, now: Date = Date()) -> Date? {
        guard let origin, step > origin.step else {
            if origin == nil || step < origin!.step { self.origin = (step, now) }
            return nil
        }
        let perStep = now.timeIntervalSince(origin.time) / Double(step - origin.step)
        return now.addingTimeInterval(perStep * Double(max(0, total - step)))
    }

    public mutating func reset() { origin = nil }
}
