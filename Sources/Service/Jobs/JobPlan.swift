/// What the runtime's phases need to know about a validated recipe. The recipe validation phase
/// produces it; preflight and training read it from `JobContext.values[JobPlan.key]`.
public struct JobPlan: Sendable, Equatable {
    public static let key = "plan"

    /// "lora", "dreambooth", "textual_inversion": for messages.
    public var method: String
    public var dryRun: Bool
    public var resolution: Int
    public var centerCrop: Bool
    /// Folders of images to check, relative to the job folder: the subjects' (nil for the job
    /// folder itself) and any class/ folders the user supplied for prior preservation.
    public var imageFolders: [ImageFolder]
    public var training: TrainingPlan
    /// The whole validated recipe, for the phases that run it (training, samples, export).
    public var recipe: Recipe?

    public struct ImageFolder: Sendable, Equatable {
        public var subfolder: String?
        /// Subject folders must hold enough usable images; class folders are optional extras.
        public var isClassFolder: Bool
        public init(subfolder: String?, isClassFolder: Bool = false) {
            self.subfolder = subfolder; self.isClassFolder = isClassFolder
        }
    }

    public init(method: String, dryRun: Bool, resolution: Int = 512, centerCrop: Bool = true,
                imageFolders: [ImageFolder] = [ImageFolder(subfolder: nil)], training: TrainingPlan = TrainingPlan(),
                recipe: Recipe? = nil) {
        self.recipe = recipe
        self.method = method; self.dryRun = dryRun; self.resolution = resolution
        self.centerCrop = centerCrop; self.imageFolders = imageFolders; self.training = training
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
