import ArgumentParser
import Diffusion
import Evaluation
import Foundation
import Imaging
import ModelIO
import TensorEngine
import Training
import World

/// `dropbooth pretrain …`: a maintainer's command that makes the embedded default model from
/// nothing, with dropbooth's own engine, on the procedural world (models/default/README.md).
/// Stage 1 trains the autoencoder, stage 2 the UNet and text encoder on its latents, stage 3
/// the decoder alone (encoder frozen, so stage 2's latents stay valid); all
/// checkpoint into the output folder, which is a diffusers pipeline folder at every moment.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain the default model from scratch on the procedural world (maintainers).",
        subcommands: [PretrainVAECommand.self, PretrainDiffusionCommand.self, PretrainDecoderCommand.self, PretrainExportCommand.self, PretrainWorldCommand.self]
    )
}

struct PretrainRunOptions: ParsableArguments {
    @Option(name: .long, help: "The model folder to create or continue (a diffusers folder; run state under pretrain/).")
    var out: String

    @Option(name: .long, help: "Train until this many optimiser steps in total (a resumed run continues up to it).")
    var steps: Int

    @Flag(name: .long, help: "Continue the stage from its last checkpoint in --out.")
    var resume = false

    @Option(name: .long, help: "The configs a new folder starts from.")
    var template = "models/default"

    @Option(name: .long, help: "Seed of the initial weights, the scenes and the noise.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Image side in pixels (the default model's resolution).")
    var size = 32

    @Option(name: .long, help: "Examples per step (default: the stage's).")
    var batchSize: Int?

    @Option(name: .long, help: "Peak learning rate (default: the stage's).")
    var learningRate: Float?

    @Option(name: .long, help: "Write weights and optimiser state every this many steps.")
    var checkpointEvery = 200

    @Option(name: .long, help: "Write a sample grid every this many steps.")
    var sampleEvery = 500

    @Option(name: .long, help: "Log the mean loss every this many steps.")
    var logEvery = 20
}

/// The world's pretraining stream (never a held-out shape) and the scenes the grids show.
func worldData(size: Int, seed: UInt64) -> (train: PretrainingData, preview: [Scene]) {
    let sampler = SceneSampler.pretraining(seed: seed)
    let renderer = SceneRenderer(size: size)
    let train = PretrainingData(size: size) { i in
        let scene = sampler.scene(i)
        return PretrainingExample(pixels: renderer.render(scene).floatNHWC(), caption: scene.caption)
    }
    let previewSampler = SceneSampler.pretraining(seed: seed &+ 1_000_003)
    return (train, (0..<8).map { previewSampler.scene($0) })
}

/// Checks `--resume` against what the folder holds, in words.
func checkResume<S>(_ state: S?, resume: Bool, stage: String, out: String) throws {
    if state != nil && !resume {
        throw ValidationError("\(out) already has a \(stage) run (pretrain/\(stage)-state.json); pass --resume to continue it, or choose another --out")
    }
    if state == nil && resume { print("no \(stage) state in \(out): starting the stage") }
}

/// Runs `train` for steps from..<to with logging, checkpoints and grids.
func runLoop(from start: Int, to total: Int, options o: PretrainRunOptions, stage: String, header: String,
             train: (Int) -> [Float], checkpoint: (Int) throws -> Void, samples: (Int) throws -> Void) throws {
    var window: [[Float]] = []
    var clock = Date()
    for step in start..<total {
        window.append(train(step))
        let done = step + 1
        if done % o.logEvery == 0 || done == total {
            let means = (0..<window[0].count).map { k in window.map { $0[k] }.reduce(0, +) / Float(window.count) }
            let seconds = Date().timeIntervalSince(clock) / Double(window.count)
            let line = ([String(done)] + means.map { String(format: "%.5f", $0) } + [String(format: "%.3f", seconds)]).joined(separator: "\t")
            try PretrainingFolder(path: o.out).appendLog(stage, header: header, line: line)
            print("\(stage) \(line)")
            fflush(nil)
            window = []; clock = Date()
        }
        if done % o.checkpointEvery == 0 || done == total { try checkpoint(done) }
        if done % o.sampleEvery == 0 || done == total { try samples(done) }
    }
}

func imagesTensor(_ b: TensorBatch) -> Tensor { Tensor(b.values, shape: b.shape) }

struct PretrainVAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vae", abstract: "Stage 1: train the autoencoder on world images.")

    @OptionGroup var common: PretrainRunOptions

    @Option(name: .long, help: "Weight of the KL term (per latent element, against the mean L1).")
    var klWeight: Float?

    func run() throws {
        let folder = try PretrainingFolder.create(at: common.out, template: common.template, seed: common.seed)
        let saved = try folder.readState("vae", as: VAEPretrainingState.self)
        if let saved, saved.step < common.steps, try folder.readState("diffusion", as: DiffusionPretrainingState.self) != nil {
            throw ValidationError("\(common.out): the diffusion stage has started on this autoencoder's latents; training the autoencoder further would invalidate it (`dropbooth pretrain decoder` trains the decoder alone, which keeps them)")
        }
        try runAutoencoderStage(folder: folder, stage: "vae", saved: saved, common: common, klWeight: klWeight)
    }
}

/// Stage 3: the decoder alone, the encoder (and so the latents stage 2 learned) frozen.
struct PretrainDecoderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decoder",
                                                    abstract: "Stage 3: sharpen the autoencoder's decoder, the encoder and its latents frozen.")

    @OptionGroup var common: PretrainRunOptions

    func run() throws {
        let folder = PretrainingFolder(path: common.out)
        guard let vaeState = try folder.readState("vae", as: VAEPretrainingState.self) else {
            throw ValidationError("\(common.out) has no trained autoencoder: run `dropbooth pretrain vae --out \(common.out)` first")
        }
        let saved = try folder.readState("decoder", as: VAEPretrainingState.self)
        // A new stage continues from the autoencoder's settings with its own warm-up.
        try runAutoencoderStage(folder: folder, stage: "decoder", saved: saved, common: common, klWeight: nil,
                                startOptions: vaeState.options)
    }
}

/// The loop of stages 1 and 3: the autoencoder on world images ("decoder": encoder frozen).
func runAutoencoderStage(folder: PretrainingFolder, stage name: String, saved: VAEPretrainingState?, common: PretrainRunOptions,
                         klWeight: Float?, startOptions: VAEPretrainingOptions = VAEPretrainingOptions()) throws {
    try checkResume(saved, resume: common.resume, stage: name, out: common.out)
    var options = saved?.options ?? startOptions
    if saved == nil {
        options.seed = common.seed
        if let b = common.batchSize { options.batchSize = b }
        if let lr = common.learningRate { options.learningRate = lr }
        if let k = klWeight { options.klWeight = k }
    }
    let stage = try VAEPretraining(vae: try folder.loadVAE(), options: options, decoderOnly: name == "decoder")
    if saved != nil { _ = try folder.restoreOptimizer(stage.optimizer, names: stage.names, stage: name) }
    // Stage 3 sees other scenes than stage 1 did (another stretch of the same stream).
    let (data, preview) = worldData(size: common.size, seed: options.seed)
    let offset = name == "decoder" ? 50_000_000 : 0
    let renderer = SceneRenderer(size: common.size)
    let previewImages = Tensor(preview.flatMap { renderer.render($0).floatNHWC() }, shape: [preview.count, common.size, common.size, 3])
    let start = stage.step
    print("\(name): steps \(start) → \(common.steps), batch \(options.batchSize), lr \(options.learningRate), kl \(options.klWeight)")
    try runLoop(from: start, to: common.steps, options: common, stage: name, header: "step\tloss\tl1\tkl\tsec_per_step", train: { step in
        let (images, _) = data.batch(first: offset + step * options.batchSize, count: options.batchSize)
        let parts = stage.train(images: imagesTensor(images))
        return [parts.total, parts.reconstruction, parts.kl]
    }, checkpoint: { step in
        try folder.save(stage.vae.parameters, .vae)
        try folder.saveOptimizer(stage.optimizer, names: stage.names, stage: name)
        try folder.writeState(VAEPretrainingState(step: step, options: options), name)
    }, samples: { step in
        let path = (folder.samplesFolder as NSString).appendingPathComponent(String(format: "\(name)-%06d.png", step))
        try writeGrid([rgbImages(previewImages), rgbImages(stage.reconstruct(previewImages))], rowLabels: ["scene", "decoded"], to: path)
        print("wrote \(path)")
    })
}

struct PretrainDiffusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diffusion",
                                                    abstract: "Stage 2: train the UNet and text encoder on the trained autoencoder's latents.")

    @OptionGroup var common: PretrainRunOptions

    @Option(name: .long, help: "Share of empty captions (for classifier-free guidance).")
    var captionDropout: Double?

    @Option(name: .long, help: "Guidance scale of the sample grids.")
    var guidance: Float = 4

    func run() throws {
        let folder = PretrainingFolder(path: common.out)
        guard FileManager.default.fileExists(atPath: (common.out as NSString).appendingPathComponent("model_index.json")),
              try folder.readState("vae", as: VAEPretrainingState.self) != nil else {
            throw ValidationError("\(common.out) has no trained autoencoder: run `dropbooth pretrain vae --out \(common.out)` first")
        }
        let saved = try folder.readState("diffusion", as: DiffusionPretrainingState.self)
        try checkResume(saved, resume: common.resume, stage: "diffusion", out: common.out)
        var options = saved?.options ?? DiffusionPretrainingOptions()
        if saved == nil {
            options.seed = common.seed
            if let b = common.batchSize { options.batchSize = b }
            if let lr = common.learningRate { options.learningRate = lr }
            if let d = captionDropout { options.captionDropout = d }
        }
        let (data, preview) = worldData(size: common.size, seed: options.seed)
        var scaling = saved?.scalingFactor ?? 0
        if saved == nil {
            // The UNet should see unit-variance latents: measure the trained encoder once.
            let (images, _) = data.batch(first: 10_000_000, count: 256)
            scaling = measuredScalingFactor(try folder.loadVAE(), images: imagesTensor(images))
            try folder.setVAEScalingFactor(scaling)
            print("vae scaling_factor = \(scaling)")
        }
        let vae = try folder.loadVAE()
        let textEncoder = try folder.loadTextEncoder()
        let unet = try folder.loadUNet()
        let tokenizer = try folder.loadTokenizer()
        let schedulerConfig = try folder.checkpoint().schedulerConfig
        let stage = try DiffusionPretraining(unet: unet, textEncoder: textEncoder, vae: vae, tokenizer: tokenizer,
                                             schedule: try NoiseSchedule(config: schedulerConfig), options: options)
        if saved != nil { _ = try folder.restoreOptimizer(stage.trainer.optimizer, names: stage.names, stage: "diffusion") }
        let pipeline = TextToImagePipeline(tokenizer: tokenizer, textEncoder: textEncoder, unet: unet, vae: vae, schedulerConfig: schedulerConfig)
        let start = stage.step
        print("diffusion: steps \(start) → \(common.steps), batch \(options.batchSize), lr \(options.learningRate), caption dropout \(options.captionDropout)")
        try runLoop(from: start, to: common.steps, options: common, stage: "diffusion", header: "step\tloss\tsec_per_step", train: { step in
            let (images, captions) = data.batch(first: step * options.batchSize, count: options.batchSize)
            return [stage.train(images: imagesTensor(images), captions: captions)]
        }, checkpoint: { step in
            try folder.save(unet.parameters, .unet)
            try folder.save(textEncoder.parameters, .textEncoder)
            try folder.saveOptimizer(stage.trainer.optimizer, names: stage.names, stage: "diffusion")
            try folder.writeState(DiffusionPretrainingState(step: step, options: options, scalingFactor: scaling), "diffusion")
        }, samples: { step in
            let renderer = SceneRenderer(size: common.size)
            var generated: [RGBImage] = []
            for (i, scene) in preview.enumerated() {
                var request = TextToImageRequest(prompt: scene.caption)
                request.width = common.size; request.height = common.size
                request.seed = UInt64(i); request.steps = 25; request.guidance = guidance; request.rng = .native
                let result = try pipeline.generate(request)
                generated.append(RGBImage(width: result.width, height: result.height, pixels: result.pixels))
            }
            let path = (folder.samplesFolder as NSString).appendingPathComponent(String(format: "diffusion-%06d.png", step))
            try writeGrid([preview.map { renderer.render($0) }, generated], captions: preview.map(\.caption) + preview.map { _ in "" },
                          rowLabels: ["world", "sampled"], tile: 112, to: path)
            print("wrote \(path)")
        })
    }
}

struct PretrainExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
                                                    abstract: "Copy a pretraining folder's model (configs, tokenizer, weights) without its run state, in float16.")

    @Option(name: .long, help: "The pretraining folder.")
    var from: String

    @Option(name: .long, help: "The model folder to write (created).")
    var out: String

    @Flag(name: .long, help: "Keep float32 weights instead of float16.")
    var float32 = false

    func run() throws {
        let source = PretrainingFolder(path: from)
        let fm = FileManager.default
        for file in ["model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json", "tokenizer/vocab.json",
                     "tokenizer/merges.txt", "tokenizer/tokenizer_config.json", "scheduler/scheduler_config.json"] {
            let target = (out as NSString).appendingPathComponent(file)
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if fm.fileExists(atPath: target) { try fm.removeItem(atPath: target) }
            try fm.copyItem(atPath: (from as NSString).appendingPathComponent(file), toPath: target)
        }
        // dropbooth.json says how the model is evaluated: the pretraining folder's if it has
        // one, else the one already in the model folder (a weight update keeps it), else the
        // world's measure, which is what pretraining trains on.
        let settingsSource = (from as NSString).appendingPathComponent(ModelEvaluationSettings.fileName)
        let settingsTarget = (out as NSString).appendingPathComponent(ModelEvaluationSettings.fileName)
        if fm.fileExists(atPath: settingsSource) {
            if fm.fileExists(atPath: settingsTarget) { try fm.removeItem(atPath: settingsTarget) }
            try fm.copyItem(atPath: settingsSource, toPath: settingsTarget)
        } else if !fm.fileExists(atPath: settingsTarget) {
            try Data(ModelEvaluationSettings.worldFileContents.utf8).write(to: URL(fileURLWithPath: settingsTarget))
        }
        let dtype: SafeTensorsDType = float32 ? .f32 : .f16
        try source.save(try source.loadUNet().parameters, .unet, dtype: dtype, into: out)
        try source.save(try source.loadVAE().parameters, .vae, dtype: dtype, into: out)
        try source.save(try source.loadTextEncoder().parameters, .textEncoder, dtype: dtype, into: out)
        print("wrote \(out)")
    }
}
