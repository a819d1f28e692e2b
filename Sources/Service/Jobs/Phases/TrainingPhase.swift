import Foundation
import Diffusion
import Training

/// Trains the recipe's method on the images preflight accepted, then draws the final samples
/// and exports the result. A dry run (`dry_run: true`) ends here, after preflight.
///
/// Resumable: the run's state (`<state>/training/<job>/<run>/checkpoint.safetensors`: trained
/// tensors, AdamW's moments, the sampler's generator and data order) is written every
/// `train.checkpoint_every` steps, when the service asks the job to stop (SIGTERM, quiet hours)
/// and once training is done; after a restart the run continues from it as if it had never
/// stopped. `training/summary.json` (the loss
/// curve, timings, grids, outputs) is rewritten at the same moments, so a resumed run keeps
/// the curve from before the restart. The state goes only after the runner has recorded the
/// phase as done (`discardResumeState`), so no kill can leave a finished run without it.
public struct TrainingPhase: JobPhase {
    public let name = "training"
    public let skipWhenCompleted = true

    public init() {}

    /// The recipe layer knows sizes only as multiples of `Recipe.sizeStep`; the base model may
    /// need coarser ones (SD: 64). Checked before any image is cached or drawn.
    static func checkSizes(_ recipe: Recipe, basePath: String) throws {
        let step: Int
        do { step = try StableDiffusionCheckpoint.open(basePath).sizeStep } catch {
            throw JobFailure("base_model: \(recipe.baseModel) (\(basePath)) cannot be opened: \(error)")
        }
        var problems: [String] = []
        if recipe.train.resolution % step != 0 {
            problems.append("train.resolution: \(recipe.train.resolution) is not a multiple of \(step), which the base model \(recipe.baseModel) needs")
        }
        for (name, value) in [("width", recipe.samples.width), ("height", recipe.samples.height)] where value % step != 0 {
            problems.append("samples.size: the \(name) \(value) is not a multiple of \(step), which the base model \(recipe.baseModel) needs")
        }
        if !problems.isEmpty { throw JobFailure(problems.joined(separator: "\n")) }
    }

    public func run(_ context: JobContext) throws {
        let plan = try context.plan
        if plan.dryRun {
            context.logger.info("dry run: no training, the preflight results are the job's output")
            return
        }
        guard var recipe = plan.recipe else { throw JobFailure("Internal error: the validated recipe was not handed to training.") }
        Self.applyTestResolution(&recipe)
        guard let basePath = context.config.models[recipe.baseModel] else {
            throw JobFailure("base_model: \"\(recipe.baseModel)\" is not in the service's model registry (`models:` in its config)")
        }
        try Self.checkSizes(recipe, basePath: basePath)
        let work = context.workDirectory
        let state = Self.stateDirectory(context)
        let checkpointPath = state + "/checkpoint.safetensors"
        try Directories.create(state)
        try Directories.create(work + "/training")

        let images = try Self.instanceImages(context, recipe)
        let classStart = Date()
        let classImages = try Self.classImages(context, recipe, basePath: basePath)
        let classSeconds = Date().timeIntervalSince(classStart)
        let summaryPath = "\(work)/\(TrainingSummary.relativePath)"
        var summary = (try? AtomicFile.readJSON(TrainingSummary.self, from: summaryPath))
            ?? TrainingSummary(method: recipe.method.rawValue, baseModel: recipe.baseModel, baseModelPath: basePath,
                               steps: 0, totalSteps: recipe.train.steps, images: images.count, classImages: classImages.count)
        if recipe.priorPreservation.enabled { summary.seconds["class_images", default: 0] += classSeconds }
        func timed<T>(_ part: String, _ body: () throws -> T) rethrows -> T {
            let start = Date()
            defer { summary.seconds[part, default: 0] += Date().timeIntervalSince(start) }
            return try body()
        }

        let run: TrainingRun
        do {
            run = try timed("cache") {
                try TrainingRun(basePath: basePath, options: Self.runOptions(recipe), images: images, classImages: classImages) { done, total in
                    context.progress(step: 0, total: recipe.train.steps)
                    context.logger.debug("cached \(done)/\(total) images")
                }
            }
        } catch let error as TrainingRunError {
            throw JobFailure(error.message)
        }
        let resumed = FileManager.default.fileExists(atPath: checkpointPath)
        if resumed {
            do { try run.restore(from: checkpointPath) } catch {
                throw JobFailure("Internal error: the training checkpoint \(checkpointPath) cannot be used (\(error)); delete it to train this run from the start.")
            }
            summary.losses.removeAll { $0.step > run.step }
            summary.grids.removeAll { $0.step > run.step }
            context.logger.info("training: resuming at step \(run.step) of \(recipe.train.steps)")
        } else {
            summary.losses = []; summary.grids = []
        }
        summary.steps = run.step

        // The summary first: killed between the two writes, the resumed run restores the older
        // checkpoint and drops the summary's later losses (then recomputes them); the other
        // order would resume past losses the summary never got.
        func saveState() throws {
            summary.steps = run.step
            try AtomicFile.writeJSON(summary, to: summaryPath)
            try run.saveCheckpoint(to: checkpointPath)
            try context.saveCheckpoint(step: run.step)
        }

        let compareBase = recipe.samples.compareBase && !recipe.samples.prompts.isEmpty && !recipe.samples.seeds.isEmpty
        let drawsSamples = !recipe.samples.prompts.isEmpty && !recipe.samples.seeds.isEmpty
        var base: [RGBImageColumn] = []
        if compareBase {
            base = [.init(header: "base model: \(recipe.baseModel)", images: try timed("samples") { try Self.baseImages(run, recipe, work: work) })]
        }

        let total = recipe.train.steps
        let trainStart = Date()
        let startStep = run.step
        while !run.isFinished {
            do { try context.checkStop() } catch {
                summary.seconds["train", default: 0] += Date().timeIntervalSince(trainStart)
                try saveState()
                context.logger.notice("training: stopped at step \(run.step) of \(total); the checkpoint is saved")
                throw error
            }
            let result = run.trainStep()
            summary.losses.append(.init(step: result.step, loss: Double(result.loss), learningRate: Double(result.learningRate)))
            context.progress(step: result.step, total: total, loss: Double(result.loss))
            if result.step == startStep + 1 || result.step % 50 == 0 {
                context.logger.info("training: step \(result.step)/\(total), loss \(result.loss)")
            }
            let every = recipe.samples.every
            if drawsSamples, every > 0, result.step % every == 0, result.step < total {
                summary.seconds["train", default: 0] += Date().timeIntervalSince(trainStart)
                let grid = try timed("samples") {
                    try Self.writeGrid([.init(header: "after \(result.step) steps", images: try Self.drawTrained(run, recipe))], recipe: recipe,
                                       file: String(format: "samples/step-%06d.jpg", result.step), step: result.step,
                                       title: "after \(result.step) steps", work: work)
                }
                summary.grids.append(grid)
                summary.seconds["train", default: 0] -= Date().timeIntervalSince(trainStart)
            }
            let checkpointEvery = recipe.train.checkpointEvery
            if checkpointEvery > 0, result.step % checkpointEvery == 0, result.step < total { try saveState() }
        }
        if run.step > startStep { summary.seconds["train", default: 0] += Date().timeIntervalSince(trainStart) }
        try saveState()

        if drawsSamples {
            let trained = try timed("samples") { try Self.drawTrained(run, recipe) }
            try timed("samples") {
                try Self.keepFinalSamples(trained: trained, base: base.first?.images ?? [], trainingImages: images,
                                          recipe: recipe, basePath: basePath, steps: total, work: work)
            }
            let columns = base + [.init(header: "trained: \(total) steps", images: trained)]
            let title = columns.count > 1 ? "base model | trained, \(total) steps" : "after \(total) steps"
            summary.grids.removeAll { $0.file == "samples/final.jpg" }
            summary.grids.append(try timed("samples") {
                try Self.writeGrid(columns, recipe: recipe, file: "samples/final.jpg", step: total, title: title, work: work)
            })
        }
        summary.outputs = try timed("export") { try Self.export(run, recipe: recipe, context: context) }
        summary.steps = run.step
        try AtomicFile.writeJSON(summary, to: summaryPath)
        // The training state stays until the runner has recorded this phase as done (then
        // `discardResumeState`): a kill before the record resumes from the finished checkpoint
        // and only redraws and re-exports, instead of training again from step 0.
        context.logger.info("training: done, \(summary.outputs.count) file(s) exported")
    }
}

extension TrainingPhase {
    /// `<state>/training/<job>/<run>`: the checkpoint a resumed run continues from.
    static func stateDirectory(_ context: JobContext) -> String {
        "\(context.config.stateDirectory)/training/\(context.job)/\(context.runId)"
    }

    /// The training state is large (a full fine-tune's is three times the UNet): it goes once
    /// the runner has recorded the phase as done.
    public func discardResumeState(_ context: JobContext) throws {
        let state = Self.stateDirectory(context)
        guard FileManager.default.fileExists(atPath: state) else { return }
        try FileManager.default.removeItem(atPath: state)
    }
}

typealias RGBImageColumn = SampleGrid.Column

extension TrainingPhase {
    /// For integration tests only: DROPBOOTH_TEST_RESOLUTION=N trains and samples at N pixels,
    /// below the recipe's minimum of 64, so the real binary can train the tiny test model in a
    /// debug build within seconds. Absent otherwise.
    static func applyTestResolution(_ recipe: inout Recipe) {
        guard let value = ProcessInfo.processInfo.environment["DROPBOOTH_TEST_RESOLUTION"].flatMap(Int.init), value >= 8 else { return }
        recipe.train.resolution = value
        recipe.samples.width = value
        recipe.samples.height = value
    }
}
