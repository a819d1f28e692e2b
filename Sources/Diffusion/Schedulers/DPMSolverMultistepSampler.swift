import Foundation

/// DPM-Solver++(2M) (Lu et al. 2022), as diffusers' DPMSolverMultistepScheduler with its
/// defaults (dpmsolver++, order 2, midpoint): in log-SNR time λ = log(α/σ) it integrates the
/// data prediction x̂₀ exactly for the linear part and to second order using the previous step's
/// x̂₀. The first step, and the last (σ → 0, or under 15 steps), are first order.
public struct DPMSolverMultistepSampler: Sampler {
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float = 1
    public let usesNoise = false
    public private(set) var stepIndex = 0

    let config: SchedulerConfig
    /// x̂₀ of the previous step.
    var previousPrediction: [Float]? = nil
    var lowerOrderCount = 0

    public init(schedule: NoiseSchedule, steps: Int) throws {
        config = schedule.config
        let train = schedule.numTrainTimesteps
        try TimestepSelection.validate(steps: steps, trainTimesteps: train)
        var times = TimestepSelection.dpmSolver(config.timestepSpacing ?? .linspace, steps: steps, train: train,
                                                offset: config.stepsOffset)
        var sigmas: [Double]
        if config.useKarrasSigmas {
            let logSigmas = schedule.sigmas.map { Foundation.log($0) }
            sigmas = TimestepSelection.karrasSigmas(min: Double(schedule.sigmas[0]), max: Double(schedule.sigmas[train - 1]), count: steps)
            times = sigmas.map { TimestepSelection.timestep(forSigma: $0, logSigmas: logSigmas).rounded(.toNearestOrEven) }
        } else {
            sigmas = times.map { TimestepSelection.interpolate(schedule.sigmas, at: $0) }
        }
        let last = config.finalSigmaZero ? 0 : Double(schedule.sigmas[0])
        self.timesteps = times.map { Float($0) }
        self.sigmas = (sigmas + [last]).map { Float($0) }
    }

    /// α_t and σ_t of the variance-preserving process at noise level σ (σ_t = σ·α_t).
    private func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    private func lambda(_ a: (alpha: Float, sigma: Float)) -> Float { logf(a.alpha) - logf(a.sigma) }

    public mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float] {
        checkStep(timestep, modelOutput, sample, noise)
        let index = stepIndex
        let isLast = index == timesteps.count - 1
        let lowerOrderFinal = isLast && (config.eulerAtFinal || (config.lowerOrderFinal && timesteps.count < 15) || config.finalSigmaZero)

        // The model output as a data (x̂₀) prediction.
        let s0 = alphaSigma(sigmas[index])
        let prediction: [Float]
        switch config.predictionType {
        case .epsilon: prediction = (0..<sample.count).map { (sample[$0] - s0.sigma * modelOutput[$0]) / s0.alpha }
        case .vPrediction: prediction = (0..<sample.count).map { s0.alpha * sample[$0] - s0.sigma * modelOutput[$0] }
        }

        let t = alphaSigma(sigmas[index + 1])
        let h = lambda(t) - lambda(s0)
        // At σ → 0, λ → ∞ and exp(−h) → 0: the step lands on x̂₀.
        let expm = expf(-h) - 1
        let ratio = t.sigma / s0.sigma
        var out: [Float]
        if lowerOrderCount < 1 || lowerOrderFinal || previousPrediction == nil {
            out = (0..<sample.count).map { ratio * sample[$0] - t.alpha * expm * prediction[$0] }
        } else {
            let s1 = alphaSigma(sigmas[index - 1])
            let h0 = lambda(s0) - lambda(s1)
            let r0 = h0 / h
            let previous = previousPrediction!
            let heun = config.solverTypeHeun
            out = (0..<sample.count).map { i in
                let d0 = prediction[i], d1 = 1 / r0 * (prediction[i] - previous[i])
                if heun {
                    return ratio * sample[i] - t.alpha * expm * d0 + t.alpha * (expm / h + 1) * d1
                }
                return ratio * sample[i] - t.alpha * expm * d0 - 0.5 * (t.alpha * expm) * d1
            }
        }
        previousPrediction = prediction
        if lowerOrderCount < 2 { lowerOrderCount += 1 }
        stepIndex += 1
        return out
    }
}
