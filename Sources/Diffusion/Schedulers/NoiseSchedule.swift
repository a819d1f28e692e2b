import Foundation
import TensorEngine

/// The forward (noising) process of a diffusion model: betas over the training timesteps and the
/// cumulative alpha products, in float32 as diffusers computes them, with the training-side
/// helpers (noisy latents, the v-prediction target, SNR for min-SNR loss weighting).
///
/// x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε,   ᾱ_t = ∏_{s≤t} (1 − β_s)
public struct NoiseSchedule: Sendable {
    public let config: SchedulerConfig
    public var numTrainTimesteps: Int { betas.count }
    public let betas: [Float]
    public let alphasCumprod: [Float]
    /// σ_t = sqrt((1 − ᾱ_t)/ᾱ_t), the noise level of x_t / sqrt(ᾱ_t): the Euler/DPM samplers' scale.
    public let sigmas: [Float]

    public init(config: SchedulerConfig = .stableDiffusion) throws {
        self.config = config
        let n = config.numTrainTimesteps
        guard n >= 2 else {
            throw SchedulerConfigError(file: "scheduler config", key: "num_train_timesteps", problem: "\(n); expected at least 2")
        }
        if let trained = config.trainedBetas {
            guard trained.count == n else {
                throw SchedulerConfigError(file: "scheduler config", key: "trained_betas",
                                           problem: "\(trained.count) values; expected num_train_timesteps = \(n)")
            }
            betas = trained.map { Float($0) }
        } else {
            switch config.betaSchedule {
            case .linear:
                betas = NoiseSchedule.torchLinspace(Float(config.betaStart), Float(config.betaEnd), count: n)
            case .scaledLinear:
                betas = NoiseSchedule.torchLinspace(Float(config.betaStart.squareRoot()), Float(config.betaEnd.squareRoot()), count: n)
                    .map { $0 * $0 }
            case .squaredCosCapV2:
                betas = NoiseSchedule.cosineBetas(count: n)
            }
        }
        // torch.cumprod on float32 accumulates in double and rounds each prefix product once.
        var product = 1.0
        var cumprod = [Float](repeating: 0, count: n)
        for i in 0..<n {
            product *= Double(1 - betas[i])
            cumprod[i] = Float(product)
        }
        alphasCumprod = cumprod
        sigmas = cumprod.map { ((1 - $0) / $0).squareRoot() }
    }

    /// torch.linspace in float32: from both ends toward the middle, each value one fused rounding.
    static func torchLinspace(_ start: Float, _ end: Float, count: Int) -> [Float] {
        if count == 1 { return [start] }
        let step = (end - start) / Float(count - 1)
        return (0..<count).map { i in
            i < count / 2 ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(count - 1 - i))
        }
    }

    /// Improved DDPM's cosine schedule: β_i = min(1 − ᾱ((i+1)/n)/ᾱ(i/n), 0.999).
    static func cosineBetas(count n: Int) -> [Float] {
        func alphaBar(_ t: Double) -> Double { pow(cos((t + 0.008) / 1.008 * Double.pi / 2), 2) }
        return (0..<n).map { i in
            Float(min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999))
        }
    }

    // MARK: Training

    /// The noisy sample x_t for a batch: `original` and `noise` hold `timesteps.count` equal
    /// slices, slice b noised to timesteps[b].
    public func addNoise(original: [Float], noise: [Float], timesteps: [Int]) -> [Float] {
        mix(original, noise, timesteps) { a, s, x, e in a * x + s * e }
    }

    /// The v-prediction target v = sqrt(ᾱ_t)·ε − sqrt(1 − ᾱ_t)·x_0 (diffusers' get_velocity).
    public func velocity(sample: [Float], noise: [Float], timesteps: [Int]) -> [Float] {
        mix(sample, noise, timesteps) { a, s, x, e in a * e - s * x }
    }

    /// What the UNet is trained to output under this schedule's prediction type.
    public func trainingTarget(sample: [Float], noise: [Float], timesteps: [Int]) -> [Float] {
        switch config.predictionType {
        case .epsilon: return noise
        case .vPrediction: return velocity(sample: sample, noise: noise, timesteps: timesteps)
        }
    }

    /// Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t), as diffusers' compute_snr (for min-SNR-γ weighting).
    public func snr(_ timestep: Int) -> Float {
        let a = alphasCumprod[timestep].squareRoot(), s = (1 - alphasCumprod[timestep]).squareRoot()
        let ratio = a / s
        return ratio * ratio
    }

    /// Min-SNR-γ loss weight (Hang et al. 2023) as the diffusers training scripts compute it:
    /// min(SNR, γ)/SNR for ε-prediction, min(SNR, γ)/(SNR + 1) for v-prediction.
    public func minSNRLossWeight(_ timestep: Int, gamma: Float) -> Float {
        let snr = snr(timestep)
        let clipped = min(snr, gamma)
        switch config.predictionType {
        case .epsilon: return clipped / snr
        case .vPrediction: return clipped / (snr + 1)
        }
    }

    // MARK: Training, on tensors
    //
    // The same values as the [Float] versions, written straight into a new tensor: the training
    // step calls these every micro-batch, and copying latents and noise out to arrays and the
    // results back would cost four copies of the batch per step for nothing.

    /// x_t for a batch [N, …]: sample b noised to timesteps[b]. Outside any autodiff graph.
    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        mix(original, noise, timesteps) { a, s, x, e in a * x + s * e }
    }

    /// The v-prediction target for a batch [N, …].
    public func velocity(sample: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        mix(sample, noise, timesteps) { a, s, x, e in a * e - s * x }
    }

    /// The training target for a batch: `noise` itself (no copy) for ε-prediction.
    public func trainingTarget(sample: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        switch config.predictionType {
        case .epsilon: return noise
        case .vPrediction: return velocity(sample: sample, noise: noise, timesteps: timesteps)
        }
    }

    private func mix(_ x: Tensor, _ e: Tensor, _ timesteps: [Int], _ f: (Float, Float, Float, Float) -> Float) -> Tensor {
        precondition(x.shape == e.shape, "samples \(x.shape) and noise \(e.shape) differ in shape")
        let out = Tensor(uninitializedShape: x.shape)
        mix(x.data, e.data, count: x.count, timesteps, into: out.data, f)
        return out
    }

    private func mix(_ x: [Float], _ e: [Float], _ timesteps: [Int],
                     _ f: (Float, Float, Float, Float) -> Float) -> [Float] {
        precondition(x.count == e.count, "samples and noise disagree in size")
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xs in
            e.withUnsafeBufferPointer { es in
                out.withUnsafeMutableBufferPointer { o in
                    guard let xp = xs.baseAddress, let ep = es.baseAddress, let op = o.baseAddress else { return }
                    mix(xp, ep, count: x.count, timesteps, into: op, f)
                }
            }
        }
        return out
    }

    /// The one loop both front ends share: out[i] = f(√ᾱ_t, √(1−ᾱ_t), x[i], e[i]), t the
    /// timestep of the sample element i belongs to.
    private func mix(_ x: UnsafePointer<Float>, _ e: UnsafePointer<Float>, count: Int, _ timesteps: [Int],
                     into out: UnsafeMutablePointer<Float>, _ f: (Float, Float, Float, Float) -> Float) {
        precondition(!timesteps.isEmpty && count % timesteps.count == 0, "samples, noise and timesteps disagree in size")
        let per = count / timesteps.count
        for (b, t) in timesteps.enumerated() {
            let a = alphasCumprod[t].squareRoot(), s = (1 - alphasCumprod[t]).squareRoot()
            for i in (b * per)..<((b + 1) * per) { out[i] = f(a, s, x[i], e[i]) }
        }
    }
}
