// The noise schedule a checkpoint was trained with (scheduler/scheduler_config.json), as plain
// values. Which sampler runs is dropbooth's choice, so the saved scheduler's class and its
// sampler-only settings are kept as information; what defines the training process (betas,
// prediction type, timestep count) is checked.

public struct SchedulerConfig: Sendable, Equatable {
    public enum BetaSchedule: String, Sendable, Equatable {
        case linear, scaledLinear = "scaled_linear", squaredCosCapV2 = "squaredcos_cap_v2"
    }
    /// What the UNet predicts: the noise (SD 1.x, SD 2.x 512-base) or v = α·ε − σ·x₀ (SD 2.x 768-v).
    public enum PredictionType: String, Sendable, Equatable {
        case epsilon, vPrediction = "v_prediction", sample
    }
    public enum TimestepSpacing: String, Sendable, Equatable {
        case leading, trailing, linspace
    }

    /// The class that saved the file (e.g. "PNDMScheduler"), nil for single files.
    public var className: String?
    public var numTrainTimesteps: Int
    public var betaStart: Float
    public var betaEnd: Float
    public var betaSchedule: BetaSchedule
    /// Explicit betas, overriding the schedule (rare).
    public var trainedBetas: [Float]?
    public var predictionType: PredictionType
    public var timestepSpacing: TimestepSpacing
    public var stepsOffset: Int
    public var setAlphaToOne: Bool
    public var clipSample: Bool
    public var clipSampleRange: Float
    /// Zero terminal SNR rescaling of the betas.
    public var rescaleBetasZeroSNR: Bool

    /// Stable Diffusion's training schedule (scaled_linear 0.00085 → 0.012 over 1000 steps,
    /// epsilon), with the sampling settings of SD's own scheduler configs.
    public init(className: String? = nil, numTrainTimesteps: Int = 1000, betaStart: Float = 0.00085, betaEnd: Float = 0.012,
                betaSchedule: BetaSchedule = .scaledLinear, trainedBetas: [Float]? = nil,
                predictionType: PredictionType = .epsilon, timestepSpacing: TimestepSpacing = .leading,
                stepsOffset: Int = 1, setAlphaToOne: Bool = false, clipSample: Bool = false, clipSampleRange: Float = 1,
                rescaleBetasZeroSNR: Bool = false) {
        self.className = className; self.numTrainTimesteps = numTrainTimesteps; self.betaStart = betaStart
        self.betaEnd = betaEnd; self.betaSchedule = betaSchedule; self.trainedBetas = trainedBetas
        self.predictionType = predictionType; self.timestepSpacing = timestepSpacing; self.stepsOffset = stepsOffset
        self.setAlphaToOne = setAlphaToOne; self.clipSample = clipSample; self.clipSampleRange = clipSampleRange
        self.rescaleBetasZeroSNR = rescaleBetasZeroSNR
    }

    /// A scheduler_config.json; a missing key takes the value of diffusers' DDPM/DDIM defaults
    /// (beta 0.0001 → 0.02 linear, epsilon, leading, offset 0), as diffusers would.
    public init(json: JSONValue, path: String = "scheduler/scheduler_config.json") throws {
        var r = try ConfigReader(json, path: path)
        func parse<E: RawRepresentable<String>>(_ key: String, _ d: E, _ allowed: String) throws -> E {
            let s = try r.string(key, default: d.rawValue)
            guard let v = E(rawValue: s) else {
                throw CheckpointError.unsupportedConfig(path: path, key: key, value: "\"\(s)\"", reason: "expected \(allowed)")
            }
            return v
        }
        self.init()
        className = try r.optionalString("_class_name")
        numTrainTimesteps = try r.int("num_train_timesteps", default: 1000)
        betaStart = try r.float("beta_start", default: 0.0001)
        betaEnd = try r.float("beta_end", default: 0.02)
        betaSchedule = try parse("beta_schedule", BetaSchedule.linear, "linear, scaled_linear or squaredcos_cap_v2")
        trainedBetas = try r.floatList("trained_betas")
        predictionType = try parse("prediction_type", PredictionType.epsilon, "epsilon, v_prediction or sample")
        timestepSpacing = try parse("timestep_spacing", TimestepSpacing.leading, "leading, trailing or linspace")
        stepsOffset = try r.int("steps_offset", default: 0)
        setAlphaToOne = try r.bool("set_alpha_to_one", default: true)
        clipSample = try r.bool("clip_sample", default: true)
        clipSampleRange = try r.float("clip_sample_range", default: 1)
        rescaleBetasZeroSNR = try r.bool("rescale_betas_zero_snr", default: false)
        guard numTrainTimesteps > 0 else {
            throw CheckpointError.badConfigValue(path: path, key: "num_train_timesteps", expected: "a positive integer", found: "\(numTrainTimesteps)")
        }
        if let trainedBetas, trainedBetas.count != numTrainTimesteps {
            throw CheckpointError.badConfigValue(path: path, key: "trained_betas", expected: "\(numTrainTimesteps) values",
                                                 found: "\(trainedBetas.count)")
        }
        // Settings of particular samplers (PNDM's skip_prk_steps, Euler's interpolation, DPM-Solver's
        // order, thresholding, Karras sigmas, ...) are not read: dropbooth's samplers take their
        // own options.
    }

    public init(contentsOf path: String) throws { try self.init(json: JSONValue.read(path), path: path) }
}
