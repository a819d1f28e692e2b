// Stage 2 of the default model: the UNet and the text encoder together, from scratch, on the
// frozen autoencoder's latents, as Stable Diffusion was trained: ε-prediction with timesteps
// drawn uniformly (min-SNR-γ weighted), and a share of captions replaced by the empty prompt so that the model
// also learns the unconditional prediction classifier-free guidance needs.
//
// The step itself is DiffusionTrainer's (the one fine-tuning uses); this file makes the
// batches (latents, noise, timesteps, token ids) from world examples.

import Diffusion
import Foundation
import TensorEngine

public struct DiffusionPretrainingOptions: Sendable, Codable, Equatable {
    public var batchSize = 32
    public var learningRate: Float = 5e-4
    public var warmupSteps = 200
    /// Share of captions replaced by "" (classifier-free guidance's unconditional side).
    public var captionDropout: Double = 0.1
    public var maxGradNorm: Float = 1
    /// Min-SNR-γ loss weighting (Hang et al. 2023): it keeps the many easy high-SNR steps from
    /// dominating the gradient, which speeds up training from scratch several-fold.
    public var minSNRGamma: Float? = 5
    public var seed: UInt64 = 0
    public init() {}
}

public struct DiffusionPretrainingState: Codable, Sendable {
    public var step: Int
    public var options: DiffusionPretrainingOptions
    /// The VAE scaling factor measured when the stage started.
    public var scalingFactor: Float
    public init(step: Int, options: DiffusionPretrainingOptions, scalingFactor: Float) {
        self.step = step; self.options = options; self.scalingFactor = scalingFactor
    }
}

public final class DiffusionPretraining {
    public let trainer: DiffusionTrainer
    public let vae: AutoencoderKL
    public let tokenizer: CLIPTokenizer
    public let options: DiffusionPretrainingOptions

    public init(unet: UNet2DConditionModel, textEncoder: CLIPTextModel, vae: AutoencoderKL, tokenizer: CLIPTokenizer,
                schedule: NoiseSchedule, options: DiffusionPretrainingOptions) throws {
        self.vae = vae; self.tokenizer = tokenizer; self.options = options
        let parameters = try FullFineTune.parameters(of: unet) + FullFineTune.parameters(of: textEncoder)
        let optimizer = OptimizerOptions(learningRate: options.learningRate, schedule: .constantWithWarmup, warmupSteps: options.warmupSteps,
                                         totalSteps: 0, maxGradNorm: options.maxGradNorm)
        trainer = DiffusionTrainer(unet: unet, textEncoder: textEncoder, schedule: schedule, parameters: parameters, optimizer: optimizer,
                                   loss: LossOptions(minSNRGamma: options.minSNRGamma))
    }

    public var step: Int { trainer.step }
    /// Parameter names as the optimiser state file keys them.
    public var names: [String] { trainer.parameters.map(\.qualifiedName) }

    /// The batch for the current step: images [N, S, S, 3] in [-1, 1] → scaled latent means,
    /// captions → token ids (some emptied), noise and timesteps from the step number.
    public func batch(images: Tensor, captions: [String]) -> TrainingBatch {
        let latents = noGrad { vae.toUNetLatents(vae.encode(images).mean) }
        var rng = PhiloxRandom(seed: options.seed &+ 0xD1FF &+ UInt64(trainer.step) &* 104_729)
        let noise = rng.normal(shape: latents.shape)
        let steps = trainer.schedule.numTrainTimesteps
        let timesteps = (0..<latents.shape[0]).map { _ in rng.nextInt(below: steps) }
        let ids = captions.map { caption in
            tokenizer.encode(Double(rng.nextUniform()) < options.captionDropout ? "" : caption)
        }
        return TrainingBatch(latents: latents, noise: noise, timesteps: timesteps, conditioning: .tokenIDs(ids))
    }

    /// One optimiser step; returns the loss.
    public func train(images: Tensor, captions: [String]) -> Float {
        let (losses, _) = trainer.trainStep([batch(images: images, captions: captions)])
        return losses[0].total
    }
}
