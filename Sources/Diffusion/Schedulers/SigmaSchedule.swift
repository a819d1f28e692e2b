import Foundation

/// The noise levels σ the Euler samplers walk down, with the matching model timesteps, as
/// diffusers' Euler schedulers compute them: σ interpolated at the chosen timesteps (or Karras
/// spaced between the ends, the timesteps then found back from σ), and a final σ = 0. Both
/// Euler samplers are set up from it alone; they differ only in how they step.
struct SigmaSchedule: Sendable {
    let timesteps: [Float]
    let sigmas: [Float]    // timesteps.count + 1 values
    /// Starting noise scale: σ_max, or sqrt(σ_max² + 1) for "leading" spacing whose first
    /// timestep is not the noisiest one (diffusers' init_noise_sigma).
    let initNoiseSigma: Float
    let predictionType: PredictionType

    /// `allowKarras`: whether the config's use_karras_sigmas applies (diffusers' ancestral
    /// scheduler has no Karras option and ignores it).
    init(schedule: NoiseSchedule, steps: Int, allowKarras: Bool) throws {
        let config = schedule.config
        let train = schedule.numTrainTimesteps
        try TimestepSelection.validate(steps: steps, trainTimesteps: train)
        let spacing = config.timestepSpacing ?? .linspace
        // Euler keeps linspace timesteps fractional (float32); the other spacings are integers.
        var times: [Double]
        if spacing == .linspace {
            times = TimestepSelection.linspace(Double(train - 1), count: steps).reversed().map { Double(Float($0)) }
        } else {
            times = TimestepSelection.descending(spacing, steps: steps, train: train, offset: config.stepsOffset)
        }
        var sigmas = times.map { TimestepSelection.interpolate(schedule.sigmas, at: $0) }
        if allowKarras && config.useKarrasSigmas {
            let logSigmas = schedule.sigmas.map { Foundation.log($0) }
            sigmas = TimestepSelection.karrasSigmas(min: sigmas[sigmas.count - 1], max: sigmas[0], count: steps)
            times = sigmas.map { TimestepSelection.timestep(forSigma: $0, logSigmas: logSigmas) }
        }
        let last = config.finalSigmaZero ? 0 : Double(schedule.sigmas[0])
        self.timesteps = times.map { Float($0) }
        self.sigmas = (sigmas + [last]).map { Float($0) }
        let maxSigma = self.sigmas.max() ?? 1
        initNoiseSigma = spacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
        predictionType = config.predictionType
    }
}

/// x̂₀ from the model output at noise level σ, for samples scaled as x_t / sqrt(ᾱ_t) (the Euler
/// samplers' convention): ε-prediction x − σ·ε; v-prediction −σ/sqrt(σ²+1)·v + x/(σ²+1).
@inline(__always)
func predictedOriginal(_ type: PredictionType, sample x: Float, output m: Float, sigma: Float,
                       vScale: Float, xScale: Float) -> Float {
    switch type {
    case .epsilon: return x - sigma * m
    case .vPrediction: return m * vScale + x / xScale
    }
}
