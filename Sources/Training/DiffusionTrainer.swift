// The training step shared by LoRA, DreamBooth and textual inversion: they differ only in
// which tensors are trainable (LoRA factors, all UNet weights, appended embedding rows) and
// in the loss options (prior preservation). One micro-batch:
//
//   noise  = ε (+ offset · offsetNoise)            x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·noise
//   target = noise (ε-prediction) or √ᾱ_t·noise − √(1−ᾱ_t)·x_0 (v-prediction)
//   loss   = MSE(unet(x_t, t, context), target)  [min-SNR weights] [+ w · prior half]
//   backward(loss / accumulation steps)
//
// and after `gradientAccumulationSteps` of them: clip by global norm, AdamW at the schedule's
// learning rate, zero the gradients. Everything random is in the batch, so the step itself is
// deterministic.

import Diffusion
import TensorEngine

/// What one optimiser update did.
public struct OptimizerStepReport: Sendable, Equatable {
    /// The optimiser step just taken (1-based).
    public var step: Int
    public var learningRate: Float
    /// The global gradient norm before clipping (nil when clipping is off).
    public var gradientNorm: Float?
}

public final class DiffusionTrainer {
    public let unet: UNet2DConditionModel
    /// Needed when batches carry token ids.
    public let textEncoder: CLIPTextModel?
    public let schedule: NoiseSchedule
    public let parameters: [TrainableParameter]
    public let optimizer: AdamW
    public let optimizerOptions: OptimizerOptions
    public let lossOptions: LossOptions
    /// Micro-batches back-propagated since the last update.
    public private(set) var pendingMicroBatches = 0

    public init(unet: UNet2DConditionModel, textEncoder: CLIPTextModel?, schedule: NoiseSchedule,
                parameters: [TrainableParameter], optimizer optimizerOptions: OptimizerOptions, loss lossOptions: LossOptions = .init()) {
        precondition(!parameters.isEmpty, "nothing to train: no trainable parameters")
        for p in parameters { precondition(p.tensor.requiresGrad, "\(p.qualifiedName) is not marked trainable") }
        self.unet = unet; self.textEncoder = textEncoder; self.schedule = schedule; self.parameters = parameters
        self.optimizerOptions = optimizerOptions; self.lossOptions = lossOptions
        optimizer = AdamW(parameters: parameters.map(\.tensor), hyperparameters: optimizerOptions.adam)
    }

    /// Optimiser steps taken so far.
    public var step: Int { optimizer.step }

    /// The learning rate the next update uses.
    public var currentLearningRate: Float {
        let o = optimizerOptions
        return o.schedule.learningRate(base: o.learningRate, step: optimizer.step, warmupSteps: o.warmupSteps, totalSteps: o.totalSteps)
    }

    /// Forward and backward of one micro-batch; gradients add up until `update()`.
    @discardableResult
    public func accumulate(_ batch: TrainingBatch) -> StepLoss {
        let (loss, parts) = forward(batch)
        let value = loss.item
        (loss * (1 / Float(optimizerOptions.gradientAccumulationSteps))).backward()
        pendingMicroBatches += 1
        return StepLoss(total: value, instance: parts?.instance.item, prior: parts?.prior.item)
    }

    /// The loss of a batch without gradients (validation, resume checks).
    public func evaluate(_ batch: TrainingBatch) -> StepLoss {
        noGrad {
            let (loss, parts) = forward(batch)
            return StepLoss(total: loss.item, instance: parts?.instance.item, prior: parts?.prior.item)
        }
    }

    /// Clips, updates and zeroes the gradients.
    @discardableResult
    public func update() -> OptimizerStepReport {
        let tensors = parameters.map(\.tensor)
        let norm = optimizerOptions.maxGradNorm.map { clipGradientNorm(tensors, maxNorm: $0) }
        let lr = currentLearningRate
        noGrad { optimizer.update(lr: lr) }
        optimizer.zeroGrad()
        pendingMicroBatches = 0
        return OptimizerStepReport(step: optimizer.step, learningRate: lr, gradientNorm: norm)
    }

    /// One optimiser step over `gradientAccumulationSteps` micro-batches.
    @discardableResult
    public func trainStep(_ microBatches: [TrainingBatch]) -> (losses: [StepLoss], report: OptimizerStepReport) {
        precondition(microBatches.count == optimizerOptions.gradientAccumulationSteps,
                     "\(microBatches.count) micro-batches for an accumulation of \(optimizerOptions.gradientAccumulationSteps)")
        let losses = microBatches.map { accumulate($0) }
        return (losses, update())
    }

    private func forward(_ batch: TrainingBatch) -> (Tensor, (instance: Tensor, prior: Tensor)?) {
        // Tensors throughout: no round trip of latents and noise through [Float] per step.
        let noise = effectiveNoise(batch, offset: lossOptions.noiseOffset)
        let noisy = schedule.addNoise(original: batch.latents, noise: noise, timesteps: batch.timesteps)
        let target = schedule.trainingTarget(sample: batch.latents, noise: noise, timesteps: batch.timesteps)
        let context: Tensor
        switch batch.conditioning {
        case .hiddenStates(let states):
            context = states
        case .tokenIDs(let ids):
            guard let textEncoder else { preconditionFailure("a batch with token ids needs the trainer's text encoder") }
            context = textEncoder.encode(ids).lastHiddenState
        }
        let prediction = unet(noisy, timesteps: batch.timesteps.map(Float.init), context: context)
        let (loss, parts) = denoisingLoss(prediction: prediction, target: target, timesteps: batch.timesteps,
                                          schedule: schedule, options: lossOptions)
        return (loss, parts)
    }
}
