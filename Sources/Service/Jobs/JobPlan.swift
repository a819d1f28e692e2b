/// What the runtime's phases need to know about a validated recipe. The recipe validation phase
/// produces it; preflight and training read it from `JobContext.values[JobPlan.key]`.
public struct JobPlan: Sendable, Equatable {
    public static let key = "plan"

    /// "lora", "dreambooth", "textual_inversion": for messages.
    public var method: String
    public var dryRun: Bool
    public var resolution: Int
    public var centerCrop: Bool
    /// Prior preservation with a class/ folder of the user's own images to check too.
    public var classFolder: String?
    public var training: TrainingPlan

    public init(method: String, dryRun: Bool, resolution: Int = 512, centerCrop: Bool = true,
                classFolder: String? = nil, training: TrainingPlan = TrainingPlan()) {
        self.method = method; self.dryRun = dryRun; self.resolution = resolution
        self.centerCrop = centerCrop; self.classFolder = classFolder; self.training = training
    }
}

extension JobContext {
    /// The validated recipe's plan; a phase that runs before validation has none.
    public var plan: JobPlan {
        get throws {
            guard let plan = values[JobPlan.key] as? JobPlan else {
                throw JobFailure("Internal error: the recipe was not validated before this phase.")
            }
            return plan
        }
    }
}
