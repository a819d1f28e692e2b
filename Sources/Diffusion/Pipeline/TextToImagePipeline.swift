import Foundation
import TensorEngine

/// What to draw: the settings people share with a picture.
public struct TextToImageRequest: Sendable {
    public var prompt: String
    public var negativePrompt: String = ""
    public var seed: UInt64 = 0
    public var steps: Int = 25
    public var sampler: SamplerKind = .dpmSolverPlusPlus2M
    /// Karras sigma spacing (Euler, DPM-Solver++ 2M).
    public var karras = false
    /// Classifier-free guidance weight; at 1 or below the unconditional pass is skipped, as
    /// diffusers does.
    public var guidance: Float = 7.5
    public var width = 512
    public var height = 512
    public var rng: RandomSourceKind = .torch
    /// DDIM's eta (0: deterministic).
    public var eta: Float = 0
    /// Starting latents [1, C, h, w] in PyTorch's NCHW order (as torch.randn or another tool
    /// made them), unscaled: used instead of drawing from the seed. Ancestral noise still comes
    /// from the seed.
    public var initialLatentsNCHW: [Float]? = nil

    public init(prompt: String) { self.prompt = prompt }
}

/// One generated image and the latents it came from.
public struct TextToImageResult: Sendable {
    public let width: Int
    public let height: Int
    /// RGB8, row-major, as diffusers' "pil" output: round(255 · clamp(x/2 + 0.5, 0, 1)).
    public let pixels: [UInt8]
    /// The same in float [0, 1], [height, width, 3] (diffusers' output_type="np").
    public let image: [Float]
    /// The UNet-space latents after the last step, [1, h, w, C] (NHWC).
    public let finalLatents: [Float]
}

/// Stable Diffusion text-to-image as diffusers' StableDiffusionPipeline computes it on the CPU:
/// prompt and negative prompt → CLIP token ids → last hidden states (unconditional first in the
/// guidance batch), initial latents from the seed scaled by the sampler's init sigma, the
/// sampler loop with classifier-free guidance, VAE decode.
public final class TextToImagePipeline: @unchecked Sendable {
    public var tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let schedulerConfig: SchedulerConfig

    public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, unet: UNet2DConditionModel,
                vae: AutoencoderKL, schedulerConfig: SchedulerConfig) {
        self.tokenizer = tokenizer; self.textEncoder = textEncoder; self.unet = unet
        self.vae = vae; self.schedulerConfig = schedulerConfig
    }

    /// Loads every network of a checkpoint (diffusers folder or single file). Single files carry
    /// no tokenizer: CLIP's vocabulary (`clipVocabularyFolder`, vocab.json + merges.txt) is used.
    public convenience init(checkpoint: StableDiffusionCheckpoint, clipVocabularyFolder: URL? = nil) throws {
        let tokenizer: CLIPTokenizer
        if let folder = checkpoint.tokenizerFolder {
            tokenizer = try CLIPTokenizer(folder: URL(fileURLWithPath: folder))
        } else if let clipVocabularyFolder {
            tokenizer = try CLIPTokenizer(folder: clipVocabularyFolder)
        } else {
            throw SamplerError(problem: "\(checkpoint.path): a single-file checkpoint has no tokenizer; give the folder holding CLIP's vocab.json and merges.txt")
        }
        self.init(tokenizer: tokenizer, textEncoder: try checkpoint.loadTextEncoder(), unet: try checkpoint.loadUNet(),
                  vae: try checkpoint.loadVAE(), schedulerConfig: checkpoint.schedulerConfig)
    }

    /// Pixels per latent cell (2^(VAE blocks − 1): 8 for Stable Diffusion).
    public var vaeScaleFactor: Int { vae.config.downscale }

    /// The text encoder's last hidden states for prompts [B, 77, D], as diffusers' encode_prompt
    /// (padded to the tokenizer's length, truncated, no attention mask).
    public func encodePrompts(_ prompts: [String]) -> Tensor {
        let ids = prompts.map { tokenizer.encode($0) }
        return noGrad { textEncoder.encode(ids).lastHiddenState }
    }

    public func generate(_ request: TextToImageRequest) throws -> TextToImageResult {
        let f = vaeScaleFactor
        guard request.width > 0, request.height > 0, request.width % f == 0, request.height % f == 0 else {
            throw SamplerError(problem: "size \(request.width)x\(request.height): width and height must be positive multiples of \(f)")
        }
        guard request.steps >= 1 else { throw SamplerError(problem: "steps \(request.steps): at least 1") }
        let (h, w, c) = (request.height / f, request.width / f, unet.config.inChannels)
        let latentCount = h * w * c

        var config = schedulerConfig
        if request.karras {
            guard request.sampler == .euler || request.sampler == .dpmSolverPlusPlus2M else {
                throw SamplerError(problem: "Karras sigmas apply to the euler and dpmpp_2m samplers, not \(request.sampler.rawValue)")
            }
            config.useKarrasSigmas = true
        }
        var sampler = try makeSampler(request.sampler, schedule: try NoiseSchedule(config: config), steps: request.steps, eta: request.eta)

        let guided = request.guidance > 1
        let context = guided ? encodePrompts([request.negativePrompt, request.prompt]) : encodePrompts([request.prompt])
        let batch = guided ? 2 : 1

        var noise = SamplingNoise(kind: request.rng, seed: request.seed)
        let initial: [Float]
        if let given = request.initialLatentsNCHW {
            guard given.count == latentCount else {
                throw SamplerError(problem: "initial latents hold \(given.count) values; \(request.width)x\(request.height) needs [1, \(c), \(h), \(w)] = \(latentCount)")
            }
            initial = LatentLayout.nhwc(fromNCHW: given, batch: 1, channels: c, height: h, width: w)
        } else {
            initial = noise.next(channels: c, height: h, width: w)
        }
        let sigma = sampler.initNoiseSigma
        var latents = initial.map { $0 * sigma }

        for t in sampler.timesteps {
            let input = sampler.scaleModelInput(latents, timestep: t)
            let batchInput = Tensor(Array([[Float]](repeating: input, count: batch).joined()), shape: [batch, h, w, c])
            let out = noGrad { unet(batchInput, timesteps: [Float](repeating: t, count: batch), context: context) }.scalars
            var prediction: [Float]
            if guided {
                prediction = [Float](repeating: 0, count: latentCount)
                for i in 0..<latentCount {
                    let uncond = out[i], text = out[latentCount + i]
                    prediction[i] = uncond + request.guidance * (text - uncond)
                }
            } else {
                prediction = out
            }
            let stepNoise = sampler.usesNoise ? noise.next(channels: c, height: h, width: w) : nil
            latents = sampler.step(modelOutput: prediction, timestep: t, sample: latents, noise: stepNoise)
        }

        let decoded = noGrad { vae.decode(vae.fromUNetLatents(Tensor(latents, shape: [1, h, w, c]))) }.scalars
        let image = decoded.map { v -> Float in
            let x = v / 2 + 0.5
            return x.isNaN ? 0 : min(1, max(0, x))
        }
        let pixels = image.map { UInt8(($0 * 255).rounded()) }
        return TextToImageResult(width: request.width, height: request.height, pixels: pixels, image: image, finalLatents: latents)
    }
}
