/// A sampler turns noise into a clean latent by repeated calls to the denoising model. Every
/// sampler is driven the same way:
///
///     var sampler = try makeSampler(.euler, schedule: schedule, steps: 25)
///     var latents = initialNoise.map { $0 * sampler.initNoiseSigma }
///     for t in sampler.timesteps {
///         let input = sampler.scaleModelInput(latents, timestep: t)
///         let output = unet(input, t, text)                      // guidance applied here
///         latents = sampler.step(modelOutput: output, timestep: t, sample: latents,
///                                noise: sampler.usesNoise ? nextNoise() : nil)
///     }
///
/// Samplers keep state between steps (their step index, multistep history), so they are values
/// to be used for one run; the timestep passed to each call must be the next one in `timesteps`.
/// Samples are flat float32 arrays of any shape and batch: every operation is elementwise.
public protocol Sampler: Sendable {
    /// The timesteps the model is called at, in calling order (PNDM calls one twice).
    var timesteps: [Float] { get }
    /// The standard deviation of the starting noise (1 for DDIM/PNDM/DPM, larger for Euler).
    var initNoiseSigma: Float { get }
    /// Whether `step` needs fresh standard-normal noise (ancestral and eta > 0 samplers).
    var usesNoise: Bool { get }
    /// Index into `timesteps` of the next `step` call.
    var stepIndex: Int { get }
    /// The model's input at the current step (the Euler family divides by sqrt(σ² + 1)).
    func scaleModelInput(_ sample: [Float], timestep: Float) -> [Float]
    /// One denoising step: the sample at the next timestep.
    mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float]
}

extension Sampler {
    public func scaleModelInput(_ sample: [Float], timestep: Float) -> [Float] { sample }

    func checkStep(_ timestep: Float, _ modelOutput: [Float], _ sample: [Float], _ noise: [Float]?) {
        precondition(stepIndex < timesteps.count, "sampler stepped past its \(timesteps.count) timesteps")
        precondition(timestep == timesteps[stepIndex],
                     "sampler expected timestep \(timesteps[stepIndex]) at step \(stepIndex), got \(timestep)")
        precondition(modelOutput.count == sample.count, "model output and sample differ in size")
        precondition(!usesNoise || noise?.count == sample.count, "this sampler needs noise the size of the sample")
    }
}

/// The samplers implemented, by the names people know them by.
public enum SamplerKind: String, Sendable, CaseIterable {
    case ddim
    case pndm
    case euler
    case eulerAncestral = "euler_ancestral"
    case dpmSolverPlusPlus2M = "dpmpp_2m"
}

/// A sampler of `kind` for `steps` model calls' worth of timesteps. `eta` is DDIM's noise weight
/// (0: deterministic); Karras sigmas come from the schedule's config (`use_karras_sigmas`).
public func makeSampler(_ kind: SamplerKind, schedule: NoiseSchedule, steps: Int, eta: Float = 0) throws -> any Sampler {
    switch kind {
    case .ddim: return try DDIMSampler(schedule: schedule, steps: steps, eta: eta)
    case .pndm: return try PNDMSampler(schedule: schedule, steps: steps)
    case .euler: return try EulerSampler(schedule: schedule, steps: steps)
    case .eulerAncestral: return try EulerAncestralSampler(schedule: schedule, steps: steps)
    case .dpmSolverPlusPlus2M: return try DPMSolverMultistepSampler(schedule: schedule, steps: steps)
    }
}

public struct SamplerError: Error, CustomStringConvertible, Equatable {
    public let problem: String
    public var description: String { problem }
}

/// Samplers that work in σ (noise level) space, as k-diffusion's Euler methods: the sample
/// carries variance σ² + 1, so the model sees it scaled back to unit variance.
protocol SigmaSpaceSampler: Sampler {
    /// The σ ladder, its timesteps and starting noise, as the sampler was set up.
    var sigmaSchedule: SigmaSchedule { get }
}

extension SigmaSpaceSampler {
    public var timesteps: [Float] { sigmaSchedule.timesteps }
    public var initNoiseSigma: Float { sigmaSchedule.initNoiseSigma }
    /// timesteps.count + 1 noise levels, the last the final one (0 with final_sigmas_type "zero").
    public var sigmas: [Float] { sigmaSchedule.sigmas }
    var predictionType: PredictionType { sigmaSchedule.predictionType }

    public func scaleModelInput(_ sample: [Float], timestep: Float) -> [Float] {
        let sigma = sigmas[stepIndex]
        let scale = (sigma * sigma + 1).squareRoot()
        return sample.map { $0 / scale }
    }

    /// dx/dσ = (x − x̂₀)/σ at the current step's σ, with x̂₀ from the model's output as its
    /// prediction type says: the direction both Euler samplers step along.
    func derivative(modelOutput: [Float], sample: [Float]) -> [Float] {
        let sigma = sigmas[stepIndex]
        let vScale = -sigma / (sigma * sigma + 1).squareRoot(), xScale = sigma * sigma + 1
        return (0..<sample.count).map { i in
            let x0 = predictedOriginal(predictionType, sample: sample[i], output: modelOutput[i], sigma: sigma, vScale: vScale, xScale: xScale)
            return (sample[i] - x0) / sigma
        }
    }
}
