import Foundation

/// How the training betas are laid out over the 1000 training steps.
public enum BetaSchedule: String, Sendable, CaseIterable {
    /// Linear in sqrt(beta): Stable Diffusion's schedule (0.00085 → 0.012).
    case scaledLinear = "scaled_linear"
    /// Linear in beta: the DDPM paper's (0.0001 → 0.02).
    case linear
    /// The improved-DDPM cosine schedule, from alpha-bar.
    case squaredCosCapV2 = "squaredcos_cap_v2"
}

/// What the UNet predicts: the noise (SD 1.x, SD 2 base) or the velocity (SD 2.x 768).
public enum PredictionType: String, Sendable, CaseIterable {
    case epsilon
    case vPrediction = "v_prediction"
}

/// How `steps` sampling timesteps are picked from the training timesteps (diffusers' names).
public enum TimestepSpacing: String, Sendable, CaseIterable {
    /// Evenly from T-1 down to 0 (rounded for the integer-timestep samplers).
    case linspace
    /// Multiples of T / steps (integer division) plus `steps_offset`: what SD 1.x configs use.
    case leading
    /// Down from T-1 in strides of T / steps, so sampling starts at the noisiest timestep.
    case trailing
}

/// The noise schedule and sampler settings of a checkpoint's scheduler/scheduler_config.json,
/// with diffusers' defaults for keys it does not have. A setting that would change the numbers in
/// a way this implementation does not do (thresholding, zero-terminal-SNR rescaling, …) is an
/// error naming the key; keys that do not affect these samplers are listed in `ignoredKeys`.
public struct SchedulerConfig: Sendable, Equatable {
    public var numTrainTimesteps = 1000
    public var betaStart = 0.00085
    public var betaEnd = 0.012
    public var betaSchedule = BetaSchedule.scaledLinear
    /// Explicit betas replace the schedule when present.
    public var trainedBetas: [Double]? = nil
    public var predictionType = PredictionType.epsilon
    /// nil: each sampler's diffusers default (leading for DDIM/PNDM, linspace for the others).
    public var timestepSpacing: TimestepSpacing? = nil
    public var stepsOffset = 0
    /// DDIM/PNDM: the alpha-bar after the last step is 1 (true) or alpha-bar[0] (false, SD).
    /// nil: the sampler's diffusers default (DDIM true, PNDM false).
    public var setAlphaToOne: Bool? = nil
    /// DDIM: clamp the predicted clean sample to ±clipSampleRange. nil: diffusers' DDIM default,
    /// true, which SD configs turn off (latents are not bounded to ±1).
    public var clipSample: Bool? = nil
    public var clipSampleRange = 1.0
    /// PNDM: start with plain PLMS (true, as Stable Diffusion's configs say) or with the
    /// Runge-Kutta warm-up (false). nil: diffusers' default, the warm-up.
    public var skipPRKSteps: Bool? = nil
    /// Euler / DPM-Solver: Karras et al. sigma spacing instead of the schedule's own.
    public var useKarrasSigmas = false
    /// DPM-Solver++: first-order final steps when sampling with fewer than 15 steps.
    public var lowerOrderFinal = true
    /// DPM-Solver++: a first-order (Euler) final step regardless of step count.
    public var eulerAtFinal = false
    /// DPM-Solver++ second-order update: "midpoint" (diffusers' default) or "heun".
    public var solverTypeHeun = false
    /// Euler / DPM-Solver: the sigma after the last step is 0 (true) or the schedule's smallest.
    public var finalSigmaZero = true
    /// The `_class_name` the file names (e.g. "PNDMScheduler"), for picking a default sampler.
    public var className: String? = nil
    /// Keys present in the file that these samplers do not read.
    public var ignoredKeys: [String] = []

    /// Stable Diffusion 1.x/2.x as their scheduler configs say: scaled-linear betas
    /// 0.00085 → 0.012 over 1000 steps, steps_offset 1, no clipping, ᾱ_final = ᾱ_0, PLMS.
    public static let stableDiffusion = SchedulerConfig()

    /// Stable Diffusion's settings (see `stableDiffusion`).
    public init() {
        stepsOffset = 1
        setAlphaToOne = false
        clipSample = false
        skipPRKSteps = true
    }

    /// The values diffusers' scheduler classes take for keys a config file leaves out
    /// (linear betas 0.0001 → 0.02); `init(json:)` starts from these.
    public static var diffusersDefaults: SchedulerConfig {
        var config = SchedulerConfig()
        config.betaStart = 0.0001
        config.betaEnd = 0.02
        config.betaSchedule = .linear
        config.setAlphaToOne = nil
        config.clipSample = nil
        config.skipPRKSteps = nil
        config.stepsOffset = 0
        return config
    }

    /// A scheduler_config.json file; errors name the file and the key.
    public init(contentsOf path: String) throws {
        let json: JSONValue
        do { json = try JSONValue.read(path) } catch let e as CheckpointError { throw SchedulerConfigError(e) }
        try self.init(json: json, path: path)
    }

    public init(contentsOf url: URL) throws { try self.init(contentsOf: url.path) }

    /// A parsed scheduler config; `path` is what errors call it (a file, or e.g. a sidecar's
    /// "scheduler" object). Keys it leaves out take diffusers' class defaults.
    public init(json: JSONValue, path: String = "scheduler_config.json") throws {
        do { try self.init(reading: json, path: path) } catch let e as CheckpointError { throw SchedulerConfigError(e) }
    }

    private init(reading json: JSONValue, path: String) throws {
        self = SchedulerConfig.diffusersDefaults
        var reader = try ConfigReader(json, path: path)
        func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws -> E? where E.RawValue == String {
            guard let s = try reader.optionalString(key) else { return nil }
            guard let e = E(rawValue: s) else {
                let allowed = E.allCases.map { "\"\($0.rawValue)\"" }
                throw reader.unsupported(key, "expected " + allowed.dropLast().joined(separator: ", ") + " or " + allowed.last!)
            }
            return e
        }
        func oneOf(_ key: String, _ allowed: [String]) throws -> String? {
            guard let s = try reader.optionalString(key) else { return nil }
            guard allowed.contains(s) else { throw reader.unsupported(key, "expected \"\(allowed[0])\" or \"\(allowed[1])\"") }
            return s
        }
        className = try reader.optionalString("_class_name")
        _ = try reader.optionalString("_diffusers_version")
        if let v = try reader.optionalInt("num_train_timesteps") { numTrainTimesteps = v }
        if let v = try reader.optionalDouble("beta_start") { betaStart = v }
        if let v = try reader.optionalDouble("beta_end") { betaEnd = v }
        if let v = try enumeration("beta_schedule", BetaSchedule.self) { betaSchedule = v }
        trainedBetas = try reader.doubleList("trained_betas")
        if let v = try enumeration("prediction_type", PredictionType.self) { predictionType = v }
        timestepSpacing = try enumeration("timestep_spacing", TimestepSpacing.self)
        if let v = try reader.optionalInt("steps_offset") { stepsOffset = v }
        if let v = try reader.optionalBool("set_alpha_to_one") { setAlphaToOne = v }
        if let v = try reader.optionalBool("clip_sample") { clipSample = v }
        if let v = try reader.optionalDouble("clip_sample_range") { clipSampleRange = v }
        if let v = try reader.optionalBool("use_karras_sigmas") { useKarrasSigmas = v }
        if let v = try reader.optionalBool("lower_order_final") { lowerOrderFinal = v }
        if let v = try reader.optionalBool("euler_at_final") { eulerAtFinal = v }
        if let v = try oneOf("solver_type", ["midpoint", "heun"]) { solverTypeHeun = v == "heun" }
        if let v = try oneOf("final_sigmas_type", ["zero", "sigma_min"]) { finalSigmaZero = v == "zero" }
        skipPRKSteps = try reader.optionalBool("skip_prk_steps")

        // Here rather than only in NoiseSchedule, so the message names the file.
        guard numTrainTimesteps >= 2 else {
            throw CheckpointError.badConfigValue(path: path, key: "num_train_timesteps", expected: "an integer of at least 2", found: "\(numTrainTimesteps)")
        }
        guard stepsOffset >= 0 else {
            throw CheckpointError.badConfigValue(path: path, key: "steps_offset", expected: "a non-negative integer", found: "\(stepsOffset)")
        }
        if let trainedBetas, trainedBetas.count != numTrainTimesteps {
            throw CheckpointError.badConfigValue(path: path, key: "trained_betas", expected: "num_train_timesteps = \(numTrainTimesteps) values",
                                                 found: "\(trainedBetas.count)")
        }

        // Settings with a value other than diffusers' default would change the numbers.
        let off: [JSONValue] = [.null, .bool(false)]
        try reader.require("thresholding", in: off, reason: "dynamic thresholding is for pixel-space models")
        try reader.require("rescale_betas_zero_snr", in: off, reason: "zero-terminal-SNR rescaling is not implemented")
        try reader.require("use_exponential_sigmas", in: off, reason: "exponential sigmas are not implemented")
        try reader.require("use_beta_sigmas", in: off, reason: "beta sigmas are not implemented")
        try reader.require("use_lu_lambdas", in: off, reason: "Lu lambdas are not implemented")
        try reader.require("use_flow_sigmas", in: off, reason: "flow-matching sigmas are not implemented")
        try reader.require("use_dynamic_shifting", in: off, reason: "dynamic shifting is not implemented")
        try reader.require("algorithm_type", in: [.null, "dpmsolver++"], reason: "DPM-Solver++ is the implemented algorithm")
        try reader.require("timestep_type", in: [.null, "discrete"], reason: "continuous timesteps are not implemented")
        try reader.require("interpolation_type", in: [.null, "linear"], reason: "only linear sigma interpolation is implemented")
        try reader.require("solver_order", in: [.null, 2], reason: "DPM-Solver++ 2M is the implemented solver")
        if let clipped = try reader.optionalDouble("lambda_min_clipped"), clipped != -.infinity {
            throw reader.unsupported("lambda_min_clipped", "only the default, -Infinity (no clipping), is implemented")
        }
        ignoredKeys = reader.unconsumedKeys
    }

    /// The sampler a checkpoint's scheduler config names, when it is one of ours.
    public var namedSampler: SamplerKind? {
        switch className {
        case "DDIMScheduler": return .ddim
        case "PNDMScheduler": return .pndm
        case "EulerDiscreteScheduler": return .euler
        case "EulerAncestralDiscreteScheduler": return .eulerAncestral
        case "DPMSolverMultistepScheduler": return .dpmSolverPlusPlus2M
        default: return nil
        }
    }
}

/// A scheduler config that cannot be used, located by file (or source) and key.
public struct SchedulerConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let key: String?
    public let problem: String

    public init(file: String, key: String?, problem: String) {
        self.file = file; self.key = key; self.problem = problem
    }

    /// The shared config reader's error, said the scheduler way.
    init(_ e: CheckpointError) {
        switch e {
        case .badConfigValue(let path, let key, let expected, let found):
            self.init(file: path, key: key, problem: "expected \(expected), found \(found)")
        case .unsupportedConfig(let path, let key, let value, let reason):
            self.init(file: path, key: key, problem: "\(value) is not supported: \(reason)")
        case .invalidConfig(let path, let key, let reason):
            self.init(file: path, key: key, problem: reason)
        case .badJSON(let path, let reason), .notACheckpoint(let path, let reason):
            self.init(file: path, key: nil, problem: reason)
        case .missingFile(let path, let what):
            self.init(file: path, key: nil, problem: "missing \(what)")
        default:
            self.init(file: "scheduler config", key: nil, problem: e.description)
        }
    }

    public var description: String { "\(file)\(key.map { ": \"\($0)\"" } ?? ""): \(problem)" }
}
