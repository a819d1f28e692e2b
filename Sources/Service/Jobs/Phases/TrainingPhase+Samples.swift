import Foundation
import Diffusion
import Evaluation
import Imaging
import Training

/// Sample grids: the recipe's prompts × seeds with its sampler settings, every `samples.every`
/// steps and at the end. The base model's images are drawn once before the first step (the
/// models start exactly at the base: LoRA's B is zero) and kept as PNGs, so the final grid can
/// put them beside the trained ones without loading the base model a second time.
extension TrainingPhase {
    static let baseSampleFolder = SampleSet.baseFolder

    static func sampleGrid(_ recipe: Recipe) -> SampleGrid {
        let s = recipe.samples
        let subject = recipe.subjects.count == 1 ? recipe.subjects.first : nil
        return SampleGrid(prompts: s.prompts.map { subject?.expand($0) ?? $0 }, seeds: s.seeds.map { UInt64($0) },
                          width: s.width, height: s.height)
    }

    static func sampleRequest(_ recipe: Recipe) -> TextToImageRequest {
        let s = recipe.samples
        var r = TextToImageRequest(prompt: "")
        r.negativePrompt = recipe.subjects.count == 1 ? recipe.subjects[0].expand(s.negativePrompt) : s.negativePrompt
        r.steps = s.steps
        r.sampler = SamplerKind(rawValue: s.sampler.rawValue) ?? .pndm
        r.karras = s.karras
        r.guidance = Float(s.guidance)
        r.rng = RandomSourceKind(rawValue: s.rng.rawValue) ?? .torch
        return r
    }

    static func drawTrained(_ run: TrainingRun, _ recipe: Recipe) throws -> [RGBImage] {
        do {
            return try sampleGrid(recipe).draw(with: run.samplingPipeline(), request: sampleRequest(recipe), prompt: run.trainedPrompt)
        } catch {
            throw JobFailure("samples: \(error)")
        }
    }

    /// The base model's images, drawn now or read back after a restart.
    static func baseImages(_ run: TrainingRun, _ recipe: Recipe, work: String) throws -> [RGBImage] {
        let grid = sampleGrid(recipe)
        let folder = "\(work)/\(baseSampleFolder)"
        let paths = grid.cells.indices.map { String(format: "%@/%03d.png", folder, $0) }
        if paths.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            let images = paths.compactMap { path in
                (try? Data(contentsOf: URL(fileURLWithPath: path))).flatMap { try? ImageDecoder.decode([UInt8]($0)).image }
            }
            if images.count == paths.count { return images }
        }
        try Directories.create(folder)
        do {
            return try grid.draw(with: run.samplingPipeline(), request: sampleRequest(recipe), onImage: { i, image in
                try AtomicFile.write(Data(ImageEncoder.png(image)), to: paths[i])
            })
        } catch let failure as JobFailure { throw failure } catch {
            throw JobFailure("samples: \(error)")
        }
    }

    /// Renders and writes a grid, returning its summary entry.
    static func writeGrid(_ columns: [SampleGrid.Column], recipe: Recipe, file: String, step: Int, title: String,
                          work: String) throws -> TrainingSummary.Grid {
        let sheet: RGBImage
        do { sheet = try sampleGrid(recipe).render(columns) } catch { throw JobFailure("samples: the grid could not be drawn: \(error)") }
        try Directories.create("\(work)/samples")
        try AtomicFile.write(Data(ImageEncoder.jpeg(sheet, quality: 92)), to: "\(work)/\(file)")
        return TrainingSummary.Grid(file: file, step: step, title: title, comparesBase: columns.count > 1)
    }

    /// The final samples as files, with samples/samples.json saying which prompt and seed each
    /// one is, and the photos trained on at the samples' size: what `EvaluationPhase` and
    /// `dropbooth eval` score, in the run folder so a run can be scored again after it ended.
    static func keepFinalSamples(trained: [RGBImage], base: [RGBImage], trainingImages: [TrainingImage], recipe: Recipe,
                                 basePath: String, steps: Int, work: String) throws {
        let grid = sampleGrid(recipe)
        func entries(_ folder: String) -> [SampleSet.Sample] {
            grid.cells.enumerated().map { i, cell in SampleSet.Sample(prompt: cell.prompt, seed: cell.seed, file: SampleSet.file(folder, i)) }
        }
        for folder in [SampleSet.trainedFolder, SampleSet.trainingFolder] {
            try? FileManager.default.removeItem(atPath: "\(work)/\(folder)")
            try Directories.create("\(work)/\(folder)")
        }
        let trainedEntries = entries(SampleSet.trainedFolder)
        for (image, entry) in zip(trained, trainedEntries) {
            try AtomicFile.write(Data(ImageEncoder.png(image)), to: "\(work)/\(entry.file)")
        }
        // Centre-cropped to the samples' size, as the samples are drawn, so both are measured alike.
        let (w, h) = (grid.width, grid.height)
        var training: [SampleSet.TrainingImage] = []
        for (i, photo) in trainingImages.enumerated() {
            let file = SampleSet.file(SampleSet.trainingFolder, i)
            let fitted = photo.image.resized(shorterSide: max(w, h)).centerCropped(width: w, height: h)
            try AtomicFile.write(Data(ImageEncoder.png(fitted)), to: "\(work)/\(file)")
            training.append(.init(name: photo.name, caption: photo.caption, file: file))
        }
        let set = SampleSet(baseModel: recipe.baseModel, baseModelPath: basePath, steps: steps, width: w, height: h,
                            base: base.isEmpty ? [] : entries(SampleSet.baseFolder), trained: trainedEntries, training: training,
                            subjectWords: recipe.subjects.compactMap { s in
                                s.token.map { SubjectWord(token: $0, standIn: s.className ?? s.initializer) }
                            })
        try AtomicFile.writeJSON(set, to: "\(work)/\(SampleSet.relativePath)")
    }
}
