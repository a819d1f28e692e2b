import Foundation

/// The phases of a job: validate the recipe, preflight the images, train (with its samples
/// and exports; a dry run stops before it), score the samples, then write the report of
/// whatever ran.
public enum StandardPipeline {
    public static func phases() -> [any JobPhase] {
        var phases: [any JobPhase] = [ValidateRecipePhase(validate: plan(recipePath:config:)), PreflightPhase()]
        if let hold = TestHoldPhase.fromEnvironment() { phases.append(hold) }
        phases.append(TrainingPhase())
        phases.append(EvaluationPhase())
        phases.append(ReportPhase())
        return phases
    }

    /// Validates the recipe with the recipe layer and keeps what the runtime's phases need.
    public static func plan(recipePath: String, config: ServiceConfig) throws -> JobPlan {
        let recipe: Recipe
        do {
            recipe = try Recipe.load(path: recipePath, config: config)
        } catch {
            let count = error.problems.count
            throw JobFailure("recipe.yaml has \(count) problem\(count == 1 ? "" : "s"):\n"
                + error.problems.map { "  " + $0.description }.joined(separator: "\n"))
        }
        var folders: [JobPlan.ImageFolder] = []
        for subject in recipe.subjects {
            let subfolder = subject.folder == "." || subject.folder.isEmpty ? nil : subject.folder
            if !folders.contains(where: { $0.subfolder == subfolder }) { folders.append(.init(subfolder: subfolder)) }
        }
        if folders.isEmpty { folders.append(.init(subfolder: nil)) }
        if recipe.priorPreservation.enabled {
            for subject in recipe.subjects where !subject.classFolder.isEmpty {
                var isDirectory: ObjCBool = false
                let path = (recipePath as NSString).deletingLastPathComponent + "/" + subject.classFolder
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
                   !folders.contains(where: { $0.subfolder == subject.classFolder }) {
                    folders.append(.init(subfolder: subject.classFolder, isClassFolder: true))
                }
            }
        }
        var training = TrainingPlan()
        switch recipe.method {
        case .lora: training.method = .lora
        case .dreambooth: training.method = .dreambooth
        case .textualInversion: training.method = .textualInversion
        }
        training.steps = recipe.train.steps
        training.batchSize = recipe.train.batchSize
        training.priorPreservation = recipe.priorPreservation.enabled
        training.trainTextEncoder = recipe.train.trainTextEncoder
        training.gradientCheckpointing = recipe.train.gradientCheckpointing
        training.sampleImages = recipe.samples.prompts.count * recipe.samples.seeds.count
        training.sampleSteps = recipe.samples.steps
        return JobPlan(method: recipe.method.rawValue, dryRun: recipe.dryRun, resolution: recipe.train.resolution,
                       centerCrop: recipe.train.centerCrop, imageFolders: folders, training: training, recipe: recipe)
    }
}
