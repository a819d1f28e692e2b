// The denoising loss of the diffusers training scripts, given a batch and the UNet's output:
// the target (noise or velocity), MSE with optional min-SNR-γ weighting, and DreamBooth's
// prior-preservation term.

import Diffusion
import TensorEngine

public struct LossOptions: Sendable, Codable, Equatable {
    /// Min-SNR-γ (Hang et al. 2023) as train_text_to_image.py: per-sample weight
    /// min(SNR, γ)/SNR (ε) or min(SNR, γ)/(SNR + 1) (v). nil: plain mean MSE.
    public var minSNRGamma: Float?
    /// The noise offset strength: noise += offset · offsetNoise (per sample and channel).
    public var noiseOffset: Float = 0
    /// DreamBooth prior preservation: the batch's second half is class images and the loss is
    /// instance + weight · prior. nil: no prior preservation.
    public var priorLossWeight: Float?

    public init(minSNRGamma: Float? = nil, noiseOffset: Float = 0, priorLossWeight: Float? = nil) {
        self.minSNRGamma = minSNRGamma; self.noiseOffset = noiseOffset; self.priorLossWeight = priorLossWeight
    }
}

/// The loss of one micro-batch and its parts (plain values, for logs and reports).
public struct StepLoss: Sendable, Equatable {
    /// What is back-propagated (before division by the accumulation steps).
    public var total: Float
    /// With prior preservation: the instance half's loss and the class half's (unweighted).
    public var instance: Float?
    public var prior: Float?
}

/// The noise actually added: the batch's noise plus the offset term.
func effectiveNoise(_ batch: TrainingBatch, offset: Float) -> Tensor {
    guard offset != 0, let extra = batch.offsetNoise else { return batch.noise }
    let (n, h, w, c) = (batch.noise.shape[0], batch.noise.shape[1], batch.noise.shape[2], batch.noise.shape[3])
    let out = batch.noise.copy()
    let (dst, per) = (out.data, extra.data)
    for b in 0..<n {
        for p in 0..<(h * w) {
            let row = dst + (b * h * w + p) * c
            for k in 0..<c { row[k] += offset * per[b * c + k] }
        }
    }
    return out
}

/// Loss of `prediction` against `target` (both [N, H, W, C]) for `timesteps`, with the options'
/// min-SNR weighting and prior preservation.
func denoisingLoss(prediction: Tensor, target: Tensor, timesteps: [Int], schedule: NoiseSchedule,
                   options: LossOptions) -> (loss: Tensor, parts: (instance: Tensor, prior: Tensor)?) {
    func meanSquared(_ p: Tensor, _ t: Tensor, _ steps: [Int]) -> Tensor {
        guard let gamma = options.minSNRGamma else { return mseLoss(p, t) }
        return weightedMSELoss(p, t, sampleWeights: steps.map { schedule.minSNRLossWeight($0, gamma: gamma) })
    }
    guard let priorWeight = options.priorLossWeight else {
        return (meanSquared(prediction, target, timesteps), nil)
    }
    // torch.chunk(…, 2): instance half first, class half second.
    let n = prediction.shape[0]
    precondition(n % 2 == 0, "prior preservation needs instance and class samples in equal numbers, batch has \(n)")
    let half = n / 2
    let instance = meanSquared(slice(prediction, axis: 0, start: 0, length: half), slice(target, axis: 0, start: 0, length: half),
                               Array(timesteps[..<half]))
    // diffusers' DreamBooth computes the prior term as a plain mean MSE.
    let prior = mseLoss(slice(prediction, axis: 0, start: half, length: half), slice(target, axis: 0, start: half, length: half))
    return (instance + prior * priorWeight, (instance, prior))
}
