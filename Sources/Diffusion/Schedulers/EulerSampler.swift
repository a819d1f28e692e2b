/// Euler's method on the probability-flow ODE in σ (Karras et al. 2022, Algorithm 2 without
/// churn), as diffusers' EulerDiscreteScheduler: dx/dσ = (x − x̂₀)/σ, one step from σ_i to σ_{i+1}.
/// The model sees x / sqrt(σ² + 1), the sample at unit variance.
public struct EulerSampler: SigmaSpaceSampler {
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    public let usesNoise = false
    public private(set) var stepIndex = 0
    let predictionType: PredictionType

    public init(schedule: NoiseSchedule, steps: Int) throws {
        let s = try SigmaSchedule(schedule: schedule, steps: steps, defaultSpacing: .linspace, allowKarras: true)
        timesteps = s.timesteps
        sigmas = s.sigmas
        initNoiseSigma = s.initNoiseSigma(schedule.config.timestepSpacing ?? .linspace)
        predictionType = schedule.config.predictionType
    }

    public mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float] {
        checkStep(timestep, modelOutput, sample, noise)
        let sigma = sigmas[stepIndex], dt = sigmas[stepIndex + 1] - sigma
        stepIndex += 1
        let vScale = -sigma / (sigma * sigma + 1).squareRoot(), xScale = sigma * sigma + 1
        return (0..<sample.count).map { i in
            let x0 = predictedOriginal(predictionType, sample: sample[i], output: modelOutput[i], sigma: sigma, vScale: vScale, xScale: xScale)
            let derivative = (sample[i] - x0) / sigma
            return sample[i] + derivative * dt
        }
    }
}
