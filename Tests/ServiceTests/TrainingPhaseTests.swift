import Foundation
import Logging
import Testing
@testable import Service

/// A dry run ends after preflight; a plan without its recipe is an internal error said plainly
/// (real training: TrainingJobTests).
@Suite struct TrainingPhaseTests {
    struct GivePlan: JobPhase {
        let name = "validate"
        let skipWhenCompleted = false
        let plan: JobPlan
        func run(_ context: JobContext) throws { context.values[JobPlan.key] = plan }
    }

    func run(dryRun: Bool) throws -> (JobRunner.Outcome, TemporaryDirectory) {
        let inbox = TemporaryDirectory(), outbox = TemporaryDirectory(), state = TemporaryDirectory()
        inbox.write("alice/recipe.yaml", "method: lora\n")
        let config = ServiceConfig(inbox: inbox.path, outbox: outbox.path, stateDirectory: state.path)
        var runner = JobRunner(config: config, job: "alice", runId: "r1", jobDirectory: inbox.path + "/alice",
                               phases: [GivePlan(plan: JobPlan(method: "lora", dryRun: dryRun)), TrainingPhase()],
                               logger: Logger(label: "test"))
        runner.shouldStop = { false }
        return (try runner.run(), outbox)
    }

    @Test func planWithoutRecipeFailsWithAPlainExplanation() throws {
        let (outcome, outbox) = try run(dryRun: false)
        guard case .failed = outcome else { Issue.record("expected a failure, got \(outcome)"); return }
        let text = try String(contentsOfFile: outbox.path + "/alice/r1/error.txt", encoding: .utf8)
        #expect(text.contains("the validated recipe was not handed to training"))
    }

    @Test func dryRunSucceedsWithoutTraining() throws {
        let (outcome, outbox) = try run(dryRun: true)
        #expect(outcome == .succeeded)
        #expect(!outbox.exists("alice/r1/error.txt"))
    }
}
