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
        let dt = sigmas[stepIndex + 1] - sigmas[stepIndex]
        let d = derivative(modelOutput: modelOutput, sample: sample)
        stepIndex += 1
        return (0..<sample.count).map { i in sample[i] + d[i] * dt }
    }
}
