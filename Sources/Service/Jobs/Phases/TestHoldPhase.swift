#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// For integration tests only: when DROPBOOTH_TEST_HOLD_STEPS=N is set, the job spends N steps
/// of DROPBOOTH_TEST_HOLD_MS (default 100) milliseconds each, checkpointing every step, so a
/// test can kill the daemon mid-job and watch the run resume where it was. Absent from the
/// pipeline otherwise.
public struct TestHoldPhase: JobPhase {
    public let name = "hold"
    public let skipWhenCompleted = true
    public let steps: Int
    public let stepMilliseconds: Int

    public static func fromEnvironment() -> TestHoldPhase? {
        let environment = ProcessInfo.processInfo.environment
        guard let steps = environment["DROPBOOTH_TEST_HOLD_STEPS"].flatMap(Int.init), steps > 0 else { return nil }
        return TestHoldPhase(steps: steps, stepMilliseconds: environment["DROPBOOTH_TEST_HOLD_MS"].flatMap(Int.init) ?? 100)
    }

    public func run(_ context: JobContext) throws {
        let start = context.checkpoint.step
        if start > 0 { context.logger.info("hold: resuming at step \(start)") }
        for step in start..<steps {
            try context.checkStop()
            usleep(UInt32(stepMilliseconds * 1000))
            context.logger.info("hold: step \(step + 1)/\(steps)")
            try context.saveCheckpoint(step: step + 1)
            context.progress(step: step + 1, total: steps)
        }
    }
}
