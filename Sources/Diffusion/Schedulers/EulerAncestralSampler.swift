/// Euler ancestral sampling (k-diffusion's sample_euler_ancestral), as diffusers'
/// EulerAncestralDiscreteScheduler: each step goes deterministically down to σ_down and adds
/// fresh noise of scale σ_up, with σ_down² + σ_up² = σ_{i+1}². The noise is passed in, one
/// standard-normal draw the size of the sample per step.
public struct EulerAncestralSampler: SigmaSpaceSampler {
    let sigmaSchedule: SigmaSchedule
    public let usesNoise = true
    public private(set) var stepIndex = 0

    public init(schedule: NoiseSchedule, steps: Int) throws {
        // diffusers' ancestral scheduler has no Karras option: the config's flag is not applied.
        sigmaSchedule = try SigmaSchedule(schedule: schedule, steps: steps, allowKarras: false)
    }

    public mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float] {
        checkStep(timestep, modelOutput, sample, noise)
        let sigma = sigmas[stepIndex], sigmaTo = sigmas[stepIndex + 1]
        let sigmaUp = (sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma)).squareRoot()
        let sigmaDown = (sigmaTo * sigmaTo - sigmaUp * sigmaUp).squareRoot()
        let dt = sigmaDown - sigma
        let d = derivative(modelOutput: modelOutput, sample: sample)
        stepIndex += 1
        let z = noise!
        return (0..<sample.count).map { i in (sample[i] + d[i] * dt) + z[i] * sigmaUp }
    }
}
