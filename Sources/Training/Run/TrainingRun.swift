// A whole training run: from a base checkpoint, the method's options and the images with their
// captions to trained parameters, one optimiser step at a time.
//
//   load      tokenizer, text encoder, UNet, VAE (owned copies for a full fine-tune)
//   attach    LoRA factors / full weights / placeholder rows: the trainable parameters
//   cache     per image (and per mirror image with random_flip) the VAE's latent distribution,
//             mean and std; the sampler draws latents = mean + std·ε from its seeded generator
//             at every use, as diffusers' latent_dist.sample() does. Per caption the text
//             encoder's states, when the text encoder does not learn.
//   step      gradient-accumulation micro-batches → clip → AdamW at the schedule's rate
//
// Everything random (data order, noise, timesteps, latent samples, flips) comes from the
// BatchSampler, whose state goes into the checkpoint with the parameters and AdamW's moments:
// a run restored from a checkpoint takes exactly the steps an uninterrupted one would.
//
// With center_crop off, each image's square is cut at a position drawn once from the run's
// seed when the latents are cached (a new crop per step would mean a VAE encode per step).
// With buckets, each image is cached at its bucket's size instead of a square, and the
// sampler draws each batch from one size.

import Foundation
import Diffusion
import Imaging
import TensorEngine

public final class TrainingRun {
    public let options: TrainingRunOptions
    public let basePath: String
    public let checkpoint: StableDiffusionCheckpoint
    /// With the placeholder tokens of textual inversion added.
    public private(set) var tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let trainer: DiffusionTrainer
    public private(set) var sampler: BatchSampler
    /// With buckets, the sizes on offer (nil: every image is a `resolution` square).
    public let buckets: AspectRatioBuckets?
    /// Instance and class images the run trains on.
    public let imageCount: Int
    public let classImageCount: Int
    /// The LoRA layers' shared dropout (nil without dropout): its key is set per micro-batch.
    let loraDropout: LoRADropout?

    /// Optimiser steps taken (after a restore: including those before the checkpoint).
    public var step: Int { trainer.step }
    public var isFinished: Bool { trainer.step >= options.steps }

    /// Loads the base model and caches latents and text states. `progress(done, total)` counts
    /// cached images.
    public init(basePath: String, options: TrainingRunOptions, images: [TrainingImage], classImages: [TrainingImage] = [],
                progress: (Int, Int) -> Void = { _, _ in }) throws {
        guard !images.isEmpty else { throw TrainingRunError("no images to train on") }
        guard (0..<1).contains(options.loraDropout) else { throw TrainingRunError.unsupportedDropout(options.loraDropout) }
        if options.loss.priorLossWeight != nil, classImages.isEmpty {
            throw TrainingRunError("prior preservation needs class images; none were given")
        }
        if options.buckets, options.loss.priorLossWeight != nil {
            throw TrainingRunError("train.buckets cannot be combined with prior preservation: a batch's class images would need its instance images' size")
        }
        if options.buckets, !options.centerCrop {
            throw TrainingRunError("train.buckets keeps the whole image, so there is no square for center_crop: false to place; use center_crop: true")
        }
        if options.loss.priorLossWeight != nil {
            let withClass = Set(classImages.map(\.subject))
            if let lonely = images.first(where: { !withClass.contains($0.subject) }) {
                throw TrainingRunError("prior preservation: \(lonely.name) belongs to subject \(lonely.subject + 1), which has no class images (each subject is paired with its own class)")
            }
        }
        self.options = options
        self.basePath = basePath
        imageCount = images.count
        classImageCount = options.loss.priorLossWeight == nil ? 0 : classImages.count

        checkpoint = try StableDiffusionCheckpoint.open(basePath)
        guard options.resolution % checkpoint.sizeStep == 0 else {
            throw TrainingRunError("train.resolution \(options.resolution): the base model \(basePath) works at multiples of \(checkpoint.sizeStep) px")
        }
        let buckets = options.buckets ? AspectRatioBuckets(resolution: options.resolution, step: checkpoint.sizeStep) : nil
        self.buckets = buckets
        guard let tokenizerFolder = checkpoint.tokenizerFolder else {
            throw TrainingRunError("\(basePath): training needs the base model's tokenizer (a diffusers folder with tokenizer/)")
        }
        tokenizer = try CLIPTokenizer(folder: URL(fileURLWithPath: tokenizerFolder))
        let fullFineTune: Bool
        if case .fullFineTune = options.method { fullFineTune = true } else { fullFineTune = false }
        if fullFineTune {
            // Every weight trains, so every weight is float32: half-precision storage
            // (a float16 checkpoint, DROPBOOTH_HALF_WEIGHTS) would leave the layers' weights out of `parameters`.
            let base = checkpoint
            let models = try LayerWeightStorage.withFloat32 {
                (try UNet2DConditionModel(config: base.unetConfig, weights: OwnedWeights(base.unetWeights)),
                 try CLIPTextModel(config: base.textEncoderConfig, weights: OwnedWeights(base.textEncoderWeights),
                                   endOfTextTokenID: base.endOfTextTokenID ?? 49407))
            }
            unet = models.0
            textEncoder = models.1
            // OwnedWeights copied every tensor: the files' pages are duplicates now.
            base.unetWeights.releaseResidentPages()
            base.textEncoderWeights.releaseResidentPages()
        } else {
            unet = try checkpoint.loadUNet()
            textEncoder = try checkpoint.loadTextEncoder()
        }
        let vae = try checkpoint.loadVAE()
        self.vae = vae
        unet.gradientCheckpointing = options.gradientCheckpointing
        textEncoder.gradientCheckpointing = options.gradientCheckpointing

        // The trainable parameters, and whether the text encoder runs inside each step.
        var parameters: [TrainableParameter] = []
        var textLearns = false
        var captions = (images.map(\.caption), classImages.map(\.caption))
        var dropoutObject: LoRADropout?
        switch options.method {
        case .lora(let lora):
            let dropout = options.loraDropout > 0 ? LoRADropout(probability: Float(options.loraDropout)) : nil
            dropoutObject = dropout
            parameters = LoRAInjection.inject(into: unet, lora, dropout: dropout)
            let text = LoRAInjection.inject(into: textEncoder, lora, dropout: dropout)
            parameters += text
            textLearns = !text.isEmpty
        case .fullFineTune(let trainText):
            parameters = try FullFineTune.parameters(of: unet)
            if trainText { parameters += try FullFineTune.parameters(of: textEncoder); textLearns = true }
        case .textualInversion(let placeholders):
            guard placeholders.count == 1, let placeholder = placeholders.first else {
                throw TrainingRunError("textual inversion learns one token per run; \(placeholders.count) were given")
            }
            let initializerIDs = tokenizer.tokenize(placeholder.initializer)
            guard initializerIDs.count == 1 else {
                throw TrainingRunError("subject.initializer \"\(placeholder.initializer)\" is \(initializerIDs.count) tokens to the tokenizer; it must be a single token (one common word, e.g. \"cat\")")
            }
            for name in placeholder.tokenNames where tokenizer.id(of: name) != nil {
                throw TrainingRunError("subject.token \"\(name)\" is already a word the tokenizer knows; pick a new one, e.g. \"<my-\(placeholder.initializer)>\"")
            }
            for caption in captions.0 where !caption.contains(placeholder.token) {
                throw TrainingRunError("the caption \"\(caption)\" does not contain the token \(placeholder.token): textual inversion learns only from captions that use it (check subject.instance_prompt, captions.template or the caption files)")
            }
            let (parameter, ids) = TextualInversion.addPlaceholderVectors(to: textEncoder, count: placeholder.vectors,
                                                                          initializerTokenID: initializerIDs[0])
            // The new rows follow the text encoder's vocabulary; a tokenizer with fewer entries
            // (the tiny test models) is filled up with unused names so its next ids match.
            if tokenizer.vocabularySize < textEncoder.config.vocabSize {
                tokenizer.addTokens((tokenizer.vocabularySize..<textEncoder.config.vocabSize).map { "<|unused-\($0)|>" })
            }
            let given = tokenizer.addTokens(placeholder.tokenNames)
            guard given == ids else {
                throw TrainingRunError("\(basePath): the tokenizer (\(tokenizer.vocabularySize) tokens) and the text encoder (\(textEncoder.config.vocabSize) rows) disagree about the vocabulary size")
            }
            parameters = [parameter]
            textLearns = true
            let expand = { (text: String) in Self.expandPlaceholder(text, placeholder) }
            captions = (captions.0.map(expand), captions.1.map(expand))
        }
        loraDropout = dropoutObject
        let schedule = try NoiseSchedule(config: checkpoint.schedulerConfig)
        let (tokenizer, textEncoder) = (self.tokenizer, self.textEncoder)

        // Cache: latents per image (and mirror), text states per caption.
        let transform = TrainingTransform(resolution: options.resolution, centerCrop: options.centerCrop)
        var cropRandom = PhiloxRandom(seed: options.seed &+ 0x63726F70)
        var textCache: [String: Tensor] = [:]
        let total = images.count + classImageCount
        var done = 0
        func example(_ image: TrainingImage, caption: String) -> TrainingExample {
            let placement: TrainingTransform.CropPlacement = options.centerCrop
                ? .center : .fraction(x: Double(cropRandom.nextUniform()), y: Double(cropRandom.nextUniform()))
            // The square of `resolution`, or with buckets the image at its bucket's size.
            let picture: Imaging.RGBImage
            if let buckets {
                let size = buckets.size(forWidth: image.image.width, height: image.image.height)
                picture = transform.apply(image.image, width: size.width, height: size.height)
            } else {
                picture = transform.apply(image.image, placement: placement)
            }
            let ids = tokenizer.encode(caption)
            var e: TrainingExample
            let (mean, std) = Self.encodeLatents(picture, vae: vae)
            if textLearns {
                e = TrainingExample(latents: mean, tokenIDs: ids)
            } else {
                let states = textCache[caption] ?? noGrad { textEncoder.encode([ids]).lastHiddenState }
                textCache[caption] = states
                e = TrainingExample(latents: mean, hiddenStates: states)
            }
            e.latentStd = std
            if options.randomFlip {
                (e.flippedLatents, e.flippedLatentStd) = Self.encodeLatents(picture.flippedHorizontally(), vae: vae)
            }
            e.subject = image.subject
            done += 1
            progress(done, total)
            return e
        }
        let examples = zip(images, captions.0).map { example($0, caption: $1) }
        let classExamples = classImageCount == 0 ? [] : zip(classImages, captions.1).map { example($0, caption: $1) }

        self.sampler = BatchSampler(examples: examples, classExamples: classExamples, batchSize: options.batchSize,
                               numTrainTimesteps: schedule.numTrainTimesteps, drawsOffsetNoise: options.loss.noiseOffset != 0,
                               bucketed: options.buckets, seed: options.seed)
        self.trainer = DiffusionTrainer(unet: unet, textEncoder: textLearns ? textEncoder : nil, schedule: schedule,
                                   parameters: parameters, optimizer: options.optimizer, loss: options.loss)
    }

    /// The VAE's latent distribution for one image (a square, or a bucket's size), in the UNet's latent space
    /// ((z − shift) · scaling): mean and standard deviation [1, h, w, C].
    static func encodeLatents(_ image: RGBImage, vae: AutoencoderKL) -> (Tensor, Tensor) {
        let pixels = Tensor(image.floatNHWC(), shape: [1, image.height, image.width, 3])
        return noGrad {
            let d = vae.encode(pixels)
            return (vae.toUNetLatents(d.mean), d.standardDeviation * vae.config.scalingFactor)
        }
    }

    /// "a photo of <tok>" → "a photo of <tok> <tok>_1 …" for a multi-vector token.
    static func expandPlaceholder(_ text: String, _ p: TrainingRunOptions.Placeholder) -> String {
        p.vectors > 1 ? text.replacingOccurrences(of: p.token, with: p.tokenNames.joined(separator: " ")) : text
    }

    /// A prompt as the trained model reads it (textual inversion widens its token).
    public func trainedPrompt(_ text: String) -> String {
        guard case .textualInversion(let placeholders) = options.method, let p = placeholders.first else { return text }
        return Self.expandPlaceholder(text, p)
    }

    public struct StepResult: Sendable, Equatable {
        /// The optimiser step just taken (1-based).
        public var step: Int
        /// Mean loss of its micro-batches.
        public var loss: Float
        public var learningRate: Float
    }

    /// One optimiser step over `gradientAccumulationSteps` micro-batches.
    @discardableResult
    public func trainStep() -> StepResult {
        let micro = (0..<options.optimizer.gradientAccumulationSteps).map { _ in sampler.next() }
        let step = UInt64(trainer.step)
        let losses = micro.enumerated().map { i, batch in
            // The dropout masks are a function of (seed, step, micro-batch): resumable, no state.
            loraDropout?.key = options.seed &* 0x9E37_79B9_7F4A_7C15 &+ step &* 0x1_0000 &+ UInt64(i) &+ 1
            return trainer.accumulate(batch)
        }
        let report = trainer.update()
        let mean = losses.map(\.total).reduce(0, +) / Float(losses.count)
        return StepResult(step: report.step, loss: mean, learningRate: report.learningRate)
    }

    /// Writes parameters, AdamW state and the sampler's state (atomically: a kill mid-write
    /// keeps the previous file).
    public func saveCheckpoint(to path: String) throws {
        let temporary = path + ".partial"
        try TrainingCheckpoint.write(trainer, sampler: sampler.state, to: temporary)
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }

    /// Continues from a checkpoint written by a run built the same way.
    public func restore(from path: String) throws {
        sampler.restore(try TrainingCheckpoint.restore(trainer, from: path))
    }

    /// A txt2img pipeline over the models as they are now (adapters attached, placeholder
    /// tokens known): samples of the trained result.
    public func samplingPipeline() -> TextToImagePipeline {
        TextToImagePipeline(tokenizer: tokenizer, textEncoder: textEncoder, unet: unet, vae: vae,
                            schedulerConfig: checkpoint.schedulerConfig)
    }
}
