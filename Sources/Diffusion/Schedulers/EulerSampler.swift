/// Euler's method on the probability-flow ODE in σ (Karras et al. 2022, Algorithm 2 without
/// churn), as diffusers' EulerDiscreteScheduler: dx/dσ = (x − x̂₀)/σ, one step from σ_i to σ_{i+1}.
/// The model sees x / sqrt(σ² + 1), the sample at unit variance.
public struct EulerSampler: SigmaSpaceSampler {
    let sigmaSchedule: SigmaSchedule
    public let usesNoise = false
    public private(set) var stepIndex = 0

    public init(schedule: NoiseSchedule, steps: Int) throws {
        sigmaSchedule = try SigmaSchedule(schedule: schedule, steps: steps, allowKarras: true)
    }

    public mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float] {
        checkStep(timestep, modelOutput, sample, noise)
        let dt = sigmas[stepIndex + 1] - sigmas[stepIndex]
        let d = derivative(modelOutput: modelOutput, sample: sample)
        stepIndex += 1
        return (0..<sample.count).map { i in sample[i] + d[i] * dt }
    }
}
