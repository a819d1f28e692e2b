// What the learning tests share: the subject (a yellow star, the shape the default model never
// saw; textual inversion, which can only name what the model draws, learns a yellow triangle
// instead, see its file), its rendered photos, a short in-process training run, samples before
// and after, and the measure that says how much a sample looks like the subject.
//
// The measure (`RegionFeatures`, `RegionDistance`): the largest 4-connected region of the
// subject's colour (SceneMeasure.region), described by three numbers: log of its area (how big
// the object is drawn), the fraction of its bounding box it fills (a star ≈ 0.42 fills far less
// than a circle ≈ 0.79 or a square ≈ 1) and how low its centre of mass sits in the box (what
// tells a star from a triangle). A sample's distance to the subject is the scaled Euclidean
// distance of its numbers to those of the nearest training photo (the photos show the subject
// at two sizes); a sample with no region of the colour gets the largest distance
// (`RegionDistance.missing`). A model's score is the mean over its samples: the world's own
// renderings of the star's sampling prompts score 0.41 with stars, 1.97 with triangles, 3.43
// with circles (RegionDistanceTests; the triangle's: 0.22 triangles, 2.79 stars, 3.96 circles).
//
// Thresholds: each test asserts that training lowers the distance by at least about half the
// smallest improvement measured with seeds 1–3 on the newest weights, and never by less than
// `Learning.minimumImprovement`: a smaller change is within what the training seed alone moves.
// One exception, argued where it is made: prior preservation learns the subject by less (0.35–0.48
// on the committed weights, a spread of 0.13 between seeds) and is held to 0.2. The figures are
// in a comment above each threshold.
//
// Everything random is seeded: the photos, the training run (DROPBOOTH_LEARNING_SEED, 1 unless
// set; the thresholds were set from runs with seeds 1–3) and the sampling noise. The model is
// models/default unless DROPBOOTH_LEARNING_MODEL names another folder of the same layout (the
// pretraining's snapshots, for calibrating).

import Foundation
import Testing
import Diffusion
import Imaging
import Training
import World

enum Learning {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The base model the tests teach.
    static var modelPath: String {
        ProcessInfo.processInfo.environment["DROPBOOTH_LEARNING_MODEL"]
            ?? repositoryRoot.appendingPathComponent("models/default").path
    }

    /// The training run's seed (data order, noise, timesteps, LoRA initialisation).
    static var runSeed: UInt64 {
        ProcessInfo.processInfo.environment["DROPBOOTH_LEARNING_SEED"].flatMap { UInt64($0) } ?? 1
    }

    /// The least drop of the mean distance called learning: a sixth of the distance between
    /// rendered stars and rendered circles (3.4 − 0.4), and more than the largest spread of one
    /// method's improvement between seeds 1–3 measured on one snapshot (0.41, textual
    /// inversion on step-05300).
    static let minimumImprovement = 0.5

    /// A training run's options as every method's test uses them: batch 4, random flips, the
    /// run seed, AdamW at `learningRate` with gradients clipped to norm 1.
    static func runOptions(_ method: TrainingRunOptions.Method, name: String, steps: Int, learningRate: Float) -> TrainingRunOptions {
        var o = TrainingRunOptions(method: method, methodName: name, resolution: resolution, steps: steps,
                                   optimizer: OptimizerOptions(learningRate: learningRate, totalSteps: steps, maxGradNorm: 1))
        o.batchSize = 4
        o.randomFlip = true
        o.seed = runSeed
        return o
    }

    static let resolution = 32
    /// The class the subject is taught as (DreamBooth's class noun, textual inversion's
    /// initializer): the round shape the model knows best.
    static let classShape = Shape.circle

    /// What a test teaches: an object of one shape and colour. The shape's word is what a test
    /// replaces in the captions with its identifier or placeholder; the colour stays a word.
    struct Subject: Sendable, CustomTestStringConvertible {
        var testDescription: String { "\(colour.rawValue) \(shape.word)" }
        var shape: Shape
        var colour: Colour

        /// The yellow star: the shape the default model never saw.
        static let star = Subject(shape: .star, colour: .yellow)

        /// The subject's photos as a user would drop them: rendered at 32 px, each with its
        /// caption ("a large yellow star on a plain purple background").
        func photos() -> [(image: RGBImage, caption: String)] {
            let renderer = SceneRenderer(size: resolution)
            return (0..<photoCount).map { i in
                let scene = SceneSampler.subject(shape, colour: colour, seed: photoSeed, index: i)
                return (renderer.render(scene), scene.caption)
            }
        }

        /// Captions of unseen scenes of the subject: the prompts samples are drawn for.
        func prompts() -> [String] {
            (0..<sampleCount).map { SceneSampler.subject(shape, colour: colour, seed: promptSeed, index: $0).caption }
        }

        /// A caption with the subject's shape word replaced ("star" → "sks circle", "<thing>", "circle").
        func caption(_ caption: String, as words: String) -> String {
            caption.replacingOccurrences(of: " \(shape.word) ", with: " \(words) ")
        }

        /// Training images from the photos, their captions rewritten by `rename`.
        func trainingImages(rename: (String) -> String = { $0 }) -> [TrainingImage] {
            photos().enumerated().map { i, photo in
                TrainingImage(name: "\(shape.word)\(i).png", image: photo.image, caption: rename(photo.caption))
            }
        }
    }

    /// The photos' seed in SceneSampler.subject, and the seed of the other scenes whose captions
    /// are the sampling prompts (same subject, other sizes, positions and backgrounds).
    static let photoSeed: UInt64 = 7
    static let promptSeed: UInt64 = 1001
    static let photoCount = 8
    static let sampleCount = 16

    /// Sampling as the demo's recipe does it (DPM-Solver++ 2M, guidance 4), at 20 steps.
    static func samples(_ pipeline: TextToImagePipeline, prompts: [String]) throws -> [RGBImage] {
        try prompts.enumerated().map { i, prompt in
            var request = TextToImageRequest(prompt: prompt)
            request.seed = UInt64(i + 1)
            request.steps = 20
            request.guidance = 4
            request.width = resolution
            request.height = resolution
            let result = try pipeline.generate(request)
            return RGBImage(width: result.width, height: result.height, pixels: result.pixels)
        }
    }

    /// Trains `run` to its last step; returns the first and last ten steps' mean losses.
    @discardableResult
    static func train(_ run: TrainingRun) -> (first: Float, last: Float) {
        var losses: [Float] = []
        while !run.isFinished { losses.append(run.trainStep().loss) }
        let mean = { (xs: ArraySlice<Float>) in xs.reduce(0, +) / Float(max(xs.count, 1)) }
        return (mean(losses.prefix(10)), mean(losses.suffix(10)))
    }

    /// Prints a line of figures: the numbers the thresholds were set from.
    static func report(_ what: String, _ figures: [(String, Double)]) {
        let text = figures.map { "\($0.0) \(String(format: "%.3f", $0.1))" }.joined(separator: ", ")
        print("learning [\(URL(fileURLWithPath: modelPath).lastPathComponent), seed \(runSeed)] \(what): \(text)")
    }
}

/// The three numbers of a region of one colour (see the file's header).
struct RegionFeatures: Equatable {
    var logArea: Double
    var fill: Double
    var centroidY: Double

    /// The largest region of `colour` in `image`; nil when it has fewer than SceneMeasure's
    /// minimum of pixels.
    init?(_ image: RGBImage, colour: Colour) {
        guard let region = SceneMeasure.region(of: colour, in: image) else { return nil }
        logArea = log(Double(region.area)); fill = region.fill; centroidY = region.centroidY
    }

    init(logArea: Double, fill: Double, centroidY: Double) {
        self.logArea = logArea; self.fill = fill; self.centroidY = centroidY
    }

    static func mean(_ features: [RegionFeatures]) -> RegionFeatures {
        let n = Double(features.count)
        return RegionFeatures(logArea: features.map(\.logArea).reduce(0, +) / n, fill: features.map(\.fill).reduce(0, +) / n,
                              centroidY: features.map(\.centroidY).reduce(0, +) / n)
    }
}

enum RegionDistance {
    /// One unit of distance per: half a natural log of area (a factor 1.65), 0.1 of fill and
    /// 0.05 of centroid height: a circle (fill 0.79 at 32 px) sits ~3 units from a star (0.47),
    /// a triangle (centroid 0.63) ~2 from a star (0.55).
    static let scale = RegionFeatures(logArea: 0.5, fill: 0.1, centroidY: 0.05)
    /// The distance of a sample without the colour, and the most one sample may add: a sample
    /// that draws the colour in another shape should not weigh more than one that leaves it out.
    static let missing = 5.0

    static func distance(_ a: RegionFeatures?, _ b: RegionFeatures?) -> Double {
        guard let a, let b else { return a == nil && b == nil ? 0 : missing }
        let d = [(a.logArea - b.logArea) / scale.logArea, (a.fill - b.fill) / scale.fill, (a.centroidY - b.centroidY) / scale.centroidY]
        return min(missing, d.map { $0 * $0 }.reduce(0, +).squareRoot())
    }

    /// The mean over the samples of each one's distance to the nearest of `targets`.
    static func mean(_ samples: [RGBImage], colour: Colour, to targets: [RegionFeatures]) -> Double {
        samples.map { sample in
            let features = RegionFeatures(sample, colour: colour)
            return targets.map { distance(features, $0) }.min() ?? missing
        }.reduce(0, +) / Double(samples.count)
    }

    /// The mean distance of paired samples (same prompt and seed) of two models.
    static func paired(_ a: [RGBImage], _ b: [RGBImage], colour: Colour) -> Double {
        zip(a, b).map { distance(RegionFeatures($0, colour: colour), RegionFeatures($1, colour: colour)) }.reduce(0, +) / Double(a.count)
    }

    /// The training photos' numbers: what the subject looks like.
    static func subject(_ subject: Learning.Subject) -> [RegionFeatures] {
        subject.photos().map { RegionFeatures($0.image, colour: subject.colour)! }
    }
}

/// Distances of a method's subject samples to the subject, before and after training, and of
/// its class samples after training to the base model's.
struct LearningOutcome {
    var base: Double
    var trained: Double
    var improvement: Double { base - trained }
    /// Paired distance of the class prompts' samples after training to those before (nil when
    /// no class prompts were sampled).
    var classDrift: Double?
}

extension Learning {
    /// Samples the subject prompts (rewritten by `rename`) and the class prompts, if any, before
    /// training and after.
    static func outcome(of run: TrainingRun, subject: Subject = .star, rename: (String) -> String,
                        classPrompts: [String]? = nil) throws -> LearningOutcome {
        let prompts = subject.prompts().map { run.trainedPrompt(rename($0)) }
        let target = RegionDistance.subject(subject)
        let before = try samples(run.samplingPipeline(), prompts: prompts)
        let classBefore = try classPrompts.map { try samples(run.samplingPipeline(), prompts: $0) }
        let losses = train(run)
        let after = try samples(run.samplingPipeline(), prompts: prompts)
        let classAfter = try classPrompts.map { try samples(run.samplingPipeline(), prompts: $0) }
        var outcome = LearningOutcome(base: RegionDistance.mean(before, colour: subject.colour, to: target),
                                      trained: RegionDistance.mean(after, colour: subject.colour, to: target))
        var figures: [(String, Double)] = [
            ("loss first 10", Double(losses.first)), ("loss last 10", Double(losses.last)),
            ("base distance", outcome.base), ("trained distance", outcome.trained), ("improvement", outcome.improvement),
        ]
        if let classBefore, let classAfter {
            let drift = RegionDistance.paired(classBefore, classAfter, colour: subject.colour)
            outcome.classDrift = drift
            figures.append(("class drift", drift))
        }
        let photos = RegionFeatures.mean(target)
        report("subject photos' numbers (mean)", [("log area", photos.logArea), ("fill", photos.fill), ("centroid height", photos.centroidY)])
        report("\(run.options.methodName) \(run.options.steps) steps", figures)
        var rows = [("photos", subject.photos().map(\.image)), ("base", before), ("trained", after)]
        if let classBefore, let classAfter { rows += [("class, base", classBefore), ("class, trained", classAfter)] }
        try writeSheet(rows, name: "\(run.options.methodName)\(run.options.loss.priorLossWeight == nil ? "" : "-prior")")
        return outcome
    }

    /// With DROPBOOTH_LEARNING_SAMPLES set to a folder: a sheet of the photos and the samples
    /// there, one row each, for looking at what the numbers measured.
    static func writeSheet(_ rows: [(String, [RGBImage])], name: String) throws {
        guard let folder = ProcessInfo.processInfo.environment["DROPBOOTH_LEARNING_SAMPLES"] else { return }
        var grid = ImageGrid(tileWidth: 64, tileHeight: 64, columns: rows.map(\.1.count).max() ?? 1)
        grid.rowLabels = rows.map(\.0)
        grid.rowLabelWidth = 90
        let columns = grid.columns
        let tiles: [ImageGrid.Tile?] = rows.flatMap { row in
            (0..<columns).map { $0 < row.1.count ? ImageGrid.Tile(image: row.1[$0].resized(width: 64, height: 64)) : nil }
        }
        let sheet = try grid.render(tiles)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/\(name)-seed\(runSeed)-\(URL(fileURLWithPath: modelPath).lastPathComponent).png"
        try Data(ImageEncoder.png(sheet)).write(to: URL(fileURLWithPath: path))
    }

    /// The plain class's prompts: the sampling prompts with the class noun for the subject
    /// ("a large yellow circle on a plain purple background").
    static func classPrompts() -> [String] {
        Subject.star.prompts().map { Subject.star.caption($0, as: classShape.word) }
    }

    /// Prior-preservation class images as DreamBooth makes them: the base model's samples for
    /// the class versions of the photos' captions (seeds 0, 1, …), each with its prompt.
    static func classImages(count: Int) throws -> [TrainingImage] {
        let pipeline = try TextToImagePipeline(checkpoint: try StableDiffusionCheckpoint.open(modelPath))
        let photos = Subject.star.photos()
        return try (0..<count).map { k in
            let prompt = Subject.star.caption(photos[k % photos.count].caption, as: classShape.word)
            var request = TextToImageRequest(prompt: prompt)
            request.seed = UInt64(k)
            request.steps = 20
            request.guidance = 4
            request.width = resolution
            request.height = resolution
            let result = try pipeline.generate(request)
            return TrainingImage(name: "class\(k).png", image: RGBImage(width: result.width, height: result.height, pixels: result.pixels),
                                 caption: prompt)
        }
    }
}

/// One suite, run one test at a time: each trains a model on the machine's cores (and the
/// measured figures are per test). The methods' tests are extensions in their own files.
@Suite(.serialized) struct LearningTests {}
