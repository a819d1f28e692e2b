/// DDIM (Song et al. 2020), as diffusers' DDIMScheduler steps it.
///
/// From the model output it forms the predicted clean sample x̂₀ and noise ε̂, then jumps to the
/// previous timestep t' = t − T/steps:
///
///     x_t' = sqrt(ᾱ_t')·x̂₀ + sqrt(1 − ᾱ_t' − σ²)·ε̂ + σ·z,   σ = η·sqrt((1−ᾱ_t')/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_t'))
///
/// η = 0 is deterministic; η = 1 is DDPM-like and needs noise z each step.
public struct DDIMSampler: Sampler {
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    public var usesNoise: Bool { eta > 0 }
    public private(set) var stepIndex = 0

    let schedule: NoiseSchedule
    let eta: Float
    let stride: Int
    /// ᾱ after the final step: 1, or ᾱ_0 as Stable Diffusion's configs ask (set_alpha_to_one false).
    let finalAlphaCumprod: Float

    public init(schedule: NoiseSchedule, steps: Int, eta: Float = 0) throws {
        let config = schedule.config
        try TimestepSelection.validate(steps: steps, trainTimesteps: schedule.numTrainTimesteps)
        self.schedule = schedule
        self.eta = eta
        stride = schedule.numTrainTimesteps / steps
        finalAlphaCumprod = config.setAlphaToOne ?? true ? 1 : schedule.alphasCumprod[0]
        timesteps = TimestepSelection.descending(config.timestepSpacing ?? .leading, steps: steps,
                                                 train: schedule.numTrainTimesteps, offset: config.stepsOffset).map(Float.init)
    }

    public mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float] {
        checkStep(timestep, modelOutput, sample, noise)
        stepIndex += 1
        let config = schedule.config
        let t = Int(timestep), previous = t - stride
        let alphaT = schedule.alphasCumprod[t]
        let alphaPrev = previous >= 0 ? schedule.alphasCumprod[previous] : finalAlphaCumprod
        let betaT = 1 - alphaT
        let sqrtAlphaT = alphaT.squareRoot(), sqrtBetaT = betaT.squareRoot()
        let variance = ((1 - alphaPrev) / betaT) * (1 - alphaT / alphaPrev)
        let stdDev = eta * variance.squareRoot()
        let sqrtAlphaPrev = alphaPrev.squareRoot()
        let direction = (1 - alphaPrev - stdDev * stdDev).squareRoot()
        let clips = config.clipSample ?? true, clip = Float(config.clipSampleRange)

        var out = [Float](repeating: 0, count: sample.count)
        for i in 0..<sample.count {
            let x = sample[i], m = modelOutput[i]
            var x0: Float, eps: Float
            switch config.predictionType {
            case .epsilon:
                x0 = (x - sqrtBetaT * m) / sqrtAlphaT
                eps = m
            case .vPrediction:
                x0 = sqrtAlphaT * x - sqrtBetaT * m
                eps = sqrtAlphaT * m + sqrtBetaT * x
            }
            if clips { x0 = min(max(x0, -clip), clip) }
            var next = sqrtAlphaPrev * x0 + direction * eps
            if eta > 0, let z = noise { next = next + stdDev * z[i] }
            out[i] = next
        }
        return out
    }
}
