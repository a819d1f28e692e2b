import Foundation
import Diffusion

/// Decodes every image as training will and publishes what the model will see: the contact
/// sheet, the rejected files with reasons, the run estimate. The job fails only when too few
/// usable images remain (Preflight's `problem`).
public struct PreflightPhase: JobPhase {
    public let name = "preflight"
    public let skipWhenCompleted = true

    public init() {}

    /// The base model's sizes for the run estimate: parameter counts from the checkpoint's
    /// headers, level widths from its configs (no weights are read).
    static func describeBaseModel(at path: String, in plan: inout TrainingPlan) throws {
        let checkpoint = try StableDiffusionCheckpoint.open(path)
        plan.unetParameters = checkpoint.unetWeights.parameterCount
        plan.textEncoderParameters = checkpoint.textEncoderWeights.parameterCount
        plan.vaeParameters = checkpoint.vaeWeights.parameterCount
        plan.unetBlockChannels = checkpoint.unetConfig.blockOutChannels
        plan.vaeBlockChannels = checkpoint.vaeConfig.blockOutChannels
        plan.vaeDownscale = checkpoint.vaeConfig.downscale
    }

    public func run(_ context: JobContext) throws {
        let plan = try context.plan
        let limits = context.config.limits
        var training = plan.training
        if let recipe = plan.recipe, let basePath = context.config.models[recipe.baseModel] {
            // The estimate is for this model's size. A model that cannot be read keeps SD 1.x's
            // sizes here; the training phase names the problem.
            do { try Self.describeBaseModel(at: basePath, in: &training) } catch {
                context.logger.warning("preflight: the estimate assumes SD 1.x sizes: base_model \(recipe.baseModel) cannot be read: \(error)")
            }
        }
        let folders = plan.imageFolders
        var rejectedLines: [String] = []
        var problems: [String] = []
        var estimate: RunEstimate?
        for (index, imageFolder) in folders.enumerated() {
            let folder = imageFolder.subfolder
            try context.checkStop()
            context.progress(step: index, total: folders.count)
            var options = PreflightOptions(resolution: plan.resolution, centerCrop: plan.centerCrop, subfolder: folder,
                                           maxImages: limits.maxImages, maxImageBytes: limits.maxImageBytes,
                                           maxImagePixels: limits.maxImagePixels,
                                           minImages: imageFolder.isClassFolder ? 1 : limits.minImages, plan: training)
            options.plan.threads = context.config.threads
            options.separateSubfolders = Self.childFolders(of: folder, in: folders)
            options.buckets = plan.recipe?.train.buckets ?? false
            let report = Preflight.run(jobDirectory: URL(fileURLWithPath: context.jobDirectory), options: options)
            let prefix = folder.map { $0 + "/" } ?? ""
            let stem = folder.map { "preflight-" + Self.fileSafe($0) } ?? "preflight"
            try AtomicFile.writeJSON(report, to: "\(context.workDirectory)/\(stem).json")
            if let sheet = report.contactSheetJPEG {
                try AtomicFile.write(sheet, to: "\(context.workDirectory)/contact-sheet\(folder.map { "-" + Self.fileSafe($0) } ?? "").jpg")
            }
            rejectedLines += report.rejected.map { "\(prefix)\($0.fileName): \($0.reason)" }
            context.logger.info("preflight \(prefix.isEmpty ? "images" : prefix): \(report.accepted.count) usable, \(report.rejected.count) rejected")
            if let problem = report.problem { problems.append(prefix.isEmpty ? problem : "\(prefix): \(problem)") }
            if estimate == nil && !imageFolder.isClassFolder { estimate = report.estimate }
        }
        context.progress(step: folders.count, total: folders.count)
        let rejectedText = rejectedLines.isEmpty ? "No files were rejected.\n" : rejectedLines.joined(separator: "\n") + "\n"
        try AtomicFile.write(Data(rejectedText.utf8), to: context.workDirectory + "/rejected.txt")
        if let estimate {
            let text = """
                Estimated training time: \(ProgressBar.duration(estimate.seconds))
                Estimated peak memory: \(String(format: "%.1f", Double(estimate.peakMemoryBytes) / 1_073_741_824)) GiB
                \(estimate.formula)

                """
            try AtomicFile.write(Data(text.utf8), to: context.workDirectory + "/estimate.txt")
        }
        if !problems.isEmpty {
            var message = problems.joined(separator: "\n")
            if !rejectedLines.isEmpty { message += "\n\nRejected files:\n" + rejectedLines.map { "  " + $0 }.joined(separator: "\n") }
            throw JobFailure(message)
        }
    }

    /// The names of the plan's folders directly inside `parent` (nil: the job folder): a
    /// subject's `rex/class` is read as a folder of its own, not a stray folder inside `rex/`.
    static func childFolders(of parent: String?, in folders: [JobPlan.ImageFolder]) -> Set<String> {
        Set(folders.compactMap { candidate -> String? in
            guard let path = candidate.subfolder else { return nil }
            let parts = path.split(separator: "/").map(String.init)
            guard parts.count >= 1 else { return nil }
            let above = parts.dropLast().joined(separator: "/")
            return above == (parent ?? "") ? parts.last : nil
        })
    }

    /// "people/alice" → "people-alice": one file name per folder, in the run's top level.
    static func fileSafe(_ folder: String) -> String {
        String(folder.map { $0 == "/" ? "-" : $0 })
    }
}
