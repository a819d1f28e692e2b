import Foundation

/// How the training betas are laid out over the 1000 training steps.
public enum BetaSchedule: String, Sendable {
    /// Linear in sqrt(beta): Stable Diffusion's schedule (0.00085 → 0.012).
    case scaledLinear = "scaled_linear"
    /// Linear in beta: the DDPM paper's (0.0001 → 0.02).
    case linear
    /// The improved-DDPM cosine schedule, from alpha-bar.
    case squaredCosCapV2 = "squaredcos_cap_v2"
}

/// What the UNet predicts: the noise (SD 1.x, SD 2 base) or the velocity (SD 2.x 768).
public enum PredictionType: String, Sendable {
    case epsilon
    case vPrediction = "v_prediction"
}

/// How `steps` sampling timesteps are picked from the training timesteps (diffusers' names).
public enum TimestepSpacing: String, Sendable {
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
public struct SchedulerConfig: Sendable {
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

    public init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SchedulerConfigError(file: url.path, key: nil, problem: "file not found")
        }
        guard let object = PythonJSON.object(from: data) else {
            throw SchedulerConfigError(file: url.path, key: nil, problem: "expected a JSON object")
        }
        try self.init(json: object, file: url.path)
    }

    public init(json: [String: Any], file: String = "scheduler_config.json") throws {
        self = SchedulerConfig.diffusersDefaults
        var reader = ConfigReader(json: json, file: file)
        className = try reader.string("_class_name")
        _ = try reader.string("_diffusers_version")
        if let v = try reader.int("num_train_timesteps") { numTrainTimesteps = v }
        if let v = try reader.double("beta_start") { betaStart = v }
        if let v = try reader.double("beta_end") { betaEnd = v }
        if let v = try reader.enumeration("beta_schedule", BetaSchedule.self) { betaSchedule = v }
        trainedBetas = try reader.doubles("trained_betas")
        if let v = try reader.enumeration("prediction_type", PredictionType.self) { predictionType = v }
        timestepSpacing = try reader.enumeration("timestep_spacing", TimestepSpacing.self)
        if let v = try reader.int("steps_offset") { stepsOffset = v }
        if let v = try reader.bool("set_alpha_to_one") { setAlphaToOne = v }
        if let v = try reader.bool("clip_sample") { clipSample = v }
        if let v = try reader.double("clip_sample_range") { clipSampleRange = v }
        if let v = try reader.bool("use_karras_sigmas") { useKarrasSigmas = v }
        if let v = try reader.bool("lower_order_final") { lowerOrderFinal = v }
        if let v = try reader.bool("euler_at_final") { eulerAtFinal = v }
        if let v = try reader.string("solver_type") {
            guard v == "midpoint" || v == "heun" else { throw reader.error("solver_type", "\"\(v)\"; expected \"midpoint\" or \"heun\"") }
            solverTypeHeun = v == "heun"
        }
        if let v = try reader.string("final_sigmas_type") {
            guard v == "zero" || v == "sigma_min" else { throw reader.error("final_sigmas_type", "\"\(v)\"; expected \"zero\" or \"sigma_min\"") }
            finalSigmaZero = v == "zero"
        }
        // Settings with a value other than diffusers' default would change the numbers.
        skipPRKSteps = try reader.bool("skip_prk_steps")
        try reader.require("thresholding", equals: false, why: "dynamic thresholding is for pixel-space models")
        try reader.require("rescale_betas_zero_snr", equals: false, why: "zero-terminal-SNR rescaling is not implemented")
        try reader.require("use_exponential_sigmas", equals: false, why: "exponential sigmas are not implemented")
        try reader.require("use_beta_sigmas", equals: false, why: "beta sigmas are not implemented")
        try reader.require("use_lu_lambdas", equals: false, why: "Lu lambdas are not implemented")
        try reader.require("use_flow_sigmas", equals: false, why: "flow-matching sigmas are not implemented")
        try reader.require("use_dynamic_shifting", equals: false, why: "dynamic shifting is not implemented")
        try reader.requireString("algorithm_type", in: ["dpmsolver++"], why: "DPM-Solver++ is the implemented algorithm")
        try reader.requireString("timestep_type", in: ["discrete"], why: "continuous timesteps are not implemented")
        try reader.requireString("interpolation_type", in: ["linear"], why: "only linear sigma interpolation is implemented")
        try reader.requireInt("solver_order", in: [2], why: "DPM-Solver++ 2M is the implemented solver")
        if let clipped = try reader.double("lambda_min_clipped"), clipped != -.infinity {
            throw reader.error("lambda_min_clipped", "\(clipped) is not supported: only the default, -Infinity (no clipping), is implemented")
        }
        ignoredKeys = reader.unreadKeys
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

public struct SchedulerConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let key: String?
    public let problem: String
    public var description: String { "\(file)\(key.map { ": \"\($0)\"" } ?? ""): \(problem)" }
}

/// Typed access to a JSON object, remembering which keys were read; null counts as absent.
private struct ConfigReader {
    let json: [String: Any]
    let file: String
    var read: Set<String> = []

    init(json: [String: Any], file: String) { self.json = json; self.file = file }

    var unreadKeys: [String] { json.keys.filter { !read.contains($0) }.sorted() }

    func error(_ key: String, _ problem: String) -> SchedulerConfigError {
        SchedulerConfigError(file: file, key: key, problem: problem)
    }

    mutating func value(_ key: String) -> Any? {
        read.insert(key)
        guard let v = json[key], !(v is NSNull) else { return nil }
        return v
    }

    mutating func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v as? String else { throw error(key, "expected a string, found \(v)") }
        return s
    }

    mutating func number(_ key: String) throws -> NSNumber? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber else {
            throw error(key, "expected a number, found \(v)")
        }
        return n
    }

    mutating func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = PythonJSON.double(v) else { throw error(key, "expected a number, found \(v)") }
        return d
    }

    mutating func int(_ key: String) throws -> Int? {
        guard let n = try number(key) else { return nil }
        guard n.doubleValue == n.doubleValue.rounded(), n.doubleValue >= 0 else {
            throw error(key, "expected a non-negative integer, found \(n)")
        }
        return n.intValue
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v as? Bool else { throw error(key, "expected true or false, found \(v)") }
        return b
    }

    mutating func doubles(_ key: String) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        guard let array = v as? [Any], let numbers = array as? [NSNumber] else {
            throw error(key, "expected a list of numbers")
        }
        return numbers.map(\.doubleValue)
    }

    mutating func enumeration<E: RawRepresentable>(_ key: String, _ type: E.Type) throws -> E? where E.RawValue == String {
        guard let s = try string(key) else { return nil }
        guard let e = E(rawValue: s) else { throw error(key, "unknown value \"\(s)\"") }
        return e
    }

    mutating func require(_ key: String, equals expected: Bool, why: String) throws {
        if let present = try bool(key), present != expected { throw error(key, "\(present) is not supported: \(why)") }
    }

    mutating func requireString(_ key: String, in allowed: [String], why: String) throws {
        if let s = try string(key), !allowed.contains(s) { throw error(key, "\"\(s)\" is not supported: \(why)") }
    }

    mutating func requireInt(_ key: String, in allowed: [Int], why: String) throws {
        if let n = try int(key), !allowed.contains(n) { throw error(key, "\(n) is not supported: \(why)") }
    }
}
