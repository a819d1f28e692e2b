/// Reads and validates recipe.yaml and hands the plan to the later phases. Cheap, so it runs
/// again after every restart (a resumed run re-reads its recipe rather than trusting memory).
/// The validation itself is passed in: the recipe layer owns what a valid recipe is.
public struct ValidateRecipePhase: JobPhase {
    public let name = "validate"
    public let skipWhenCompleted = false
    /// (recipe path, service config) → plan, or throws JobFailure listing every problem.
    public let validate: @Sendable (String, ServiceConfig) throws -> JobPlan

    public init(validate: @escaping @Sendable (String, ServiceConfig) throws -> JobPlan) { self.validate = validate }

    public func run(_ context: JobContext) throws {
        let plan = try validate(context.jobDirectory + "/" + InboxScanner.recipeFileName, context.config)
        context.values[JobPlan.key] = plan
        context.logger.info("recipe valid: \(plan.method)\(plan.dryRun ? " (dry run)" : "")")
    }
}
