/// Where training plugs in. This version cannot train yet, and says so plainly rather than
/// pretending: a recipe that asks for training fails with an explanation, unless it is a dry
/// run (`dry_run: true`), which ends after preflight with the contact sheet and the estimate.
public struct TrainingPhase: JobPhase {
    public let name = "training"
    public let skipWhenCompleted = true

    public init() {}

    public func run(_ context: JobContext) throws {
        let plan = try context.plan
        if plan.dryRun {
            context.logger.info("dry run: no training, the preflight results are the job's output")
            return
        }
        throw JobFailure("""
            This recipe asks for \(plan.method) training, but training is not implemented in this \
            version of dropbooth yet. The preflight results (contact sheet, rejected files, estimate) \
            are published next to this file.
            To check a job without training, set `dry_run: true` in recipe.yaml.
            """)
    }
}
