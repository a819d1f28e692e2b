import Foundation
import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// Noise schedule and training helpers against diffusers' DDPMScheduler
/// (Tests/Fixtures/diffusion/schedulers/schedule.safetensors).
@Suite struct SchedulerTests {
    static func fixture() throws -> SafeTensorsFile { try TestFixtures.safetensors("diffusion/schedulers/schedule.safetensors") }

    @Test func scaledLinearBetasAndAlphasCumprodMatchDiffusers() throws {
        let f = try Self.fixture()
        let schedule = try NoiseSchedule(config: .stableDiffusion)
        expectClose(schedule.betas, try f.floats("scaled_linear.betas"), rtol: 0, atol: 0, "scaled_linear betas")
        expectClose(schedule.alphasCumprod, try f.floats("scaled_linear.alphas_cumprod"), rtol: 0, atol: 0, "scaled_linear alphas_cumprod")
    }

    @Test func linearBetasMatchDiffusers() throws {
        let f = try Self.fixture()
        var config = SchedulerConfig()
        config.betaSchedule = .linear
        config.betaStart = 0.0001
        config.betaEnd = 0.02
        let schedule = try NoiseSchedule(config: config)
        expectClose(schedule.betas, try f.floats("linear.betas"), rtol: 0, atol: 0, "linear betas")
        expectClose(schedule.alphasCumprod, try f.floats("linear.alphas_cumprod"), rtol: 0, atol: 0, "linear alphas_cumprod")
    }

    @Test func cosineBetasMatchDiffusers() throws {
        let f = try Self.fixture()
        var config = SchedulerConfig()
        config.betaSchedule = .squaredCosCapV2
        let schedule = try NoiseSchedule(config: config)
        expectClose(schedule.betas, try f.floats("squaredcos_cap_v2.betas"), rtol: 1e-6, "cosine betas")
        expectClose(schedule.alphasCumprod, try f.floats("squaredcos_cap_v2.alphas_cumprod"), rtol: 1e-6, "cosine alphas_cumprod")
    }

    @Test func addNoiseVelocityAndSNRMatchDiffusers() throws {
        let f = try Self.fixture()
        let schedule = try NoiseSchedule(config: .stableDiffusion)
        let x0 = try f.floats("x0"), noise = try f.floats("noise")
        let timesteps = try f.floats("timesteps").map { Int($0) }
        expectClose(schedule.addNoise(original: x0, noise: noise, timesteps: timesteps), try f.floats("noisy"), "add_noise")
        expectClose(schedule.velocity(sample: x0, noise: noise, timesteps: timesteps), try f.floats("velocity"), "get_velocity")
        expectClose((0..<1000).map { schedule.snr($0) }, try f.floats("snr"), "compute_snr")

        var v = SchedulerConfig()
        v.predictionType = .vPrediction
        let vSchedule = try NoiseSchedule(config: v)
        expectClose((0..<1000).map { schedule.minSNRLossWeight($0, gamma: 5) }, try f.floats("min_snr_5.epsilon"), "min-SNR weights, epsilon")
        expectClose((0..<1000).map { vSchedule.minSNRLossWeight($0, gamma: 5) }, try f.floats("min_snr_5.v_prediction"), "min-SNR weights, v")
        #expect(vSchedule.trainingTarget(sample: x0, noise: noise, timesteps: timesteps)
                == vSchedule.velocity(sample: x0, noise: noise, timesteps: timesteps))
        #expect(schedule.trainingTarget(sample: x0, noise: noise, timesteps: timesteps) == noise)

        // The tensor versions the training step uses: against diffusers' values too.
        let shape = [timesteps.count, x0.count / timesteps.count]
        let (x0T, noiseT) = (Tensor(x0, shape: shape), Tensor(noise, shape: shape))
        let noisyT = schedule.addNoise(original: x0T, noise: noiseT, timesteps: timesteps)
        #expect(noisyT.shape == shape)
        expectClose(noisyT.scalars, try f.floats("noisy"), "add_noise on tensors")
        expectClose(vSchedule.trainingTarget(sample: x0T, noise: noiseT, timesteps: timesteps).scalars,
                                     try f.floats("velocity"), "get_velocity on tensors")
        #expect(schedule.trainingTarget(sample: x0T, noise: noiseT, timesteps: timesteps) === noiseT, "ε target: the noise, not a copy")
    }

    @Test func readsAStableDiffusionSchedulerConfig() throws {
        let json: JSONValue = [
            "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
            "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
            "steps_offset": 1, "trained_betas": .null, "prediction_type": "v_prediction",
            "timestep_spacing": "leading", "some_future_key": 3,
        ]
        let config = try SchedulerConfig(json: json)
        #expect(config.namedSampler == .pndm)
        #expect(config.stepsOffset == 1 && config.timestepSpacing == .leading && config.predictionType == .vPrediction)
        #expect(config.trainedBetas == nil)
        #expect(config.ignoredKeys == ["some_future_key"])
    }

    @Test(arguments: ["DDIMScheduler", "PNDMScheduler", "EulerDiscreteScheduler",
                      "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler"])
    func readsConfigFilesAsDiffusersSavesThem(className: String) throws {
        let config = try SchedulerConfig(contentsOf: TestFixtures.url("diffusion/schedulers/configs/\(className).json"))
        #expect(config.className == className)
        #expect(config.namedSampler != nil)
        #expect(config.betaSchedule == .scaledLinear && config.betaStart == 0.00085 && config.stepsOffset == 1)
        #expect(config.timestepSpacing == .leading)
        let schedule = try NoiseSchedule(config: config)
        let sampler = try makeSampler(try #require(config.namedSampler), schedule: schedule, steps: 20)
        #expect(sampler.timesteps.count >= 20)
    }

    @Test func pythonNonFiniteNumbersAreRead() throws {
        let text = #"{"lambda_min_clipped": -Infinity, "note": "Infinity and NaN stay text", "x": NaN, "y": Infinity}"#
        let object = try JSONValue.parse(Data(text.utf8), path: "t.json")
        #expect(object["lambda_min_clipped"] == .number(-.infinity))
        #expect(object["note"] == .string("Infinity and NaN stay text"))
        guard case .number(let x)? = object["x"] else { Issue.record("NaN should read as a number"); return }
        #expect(x.isNaN)
        #expect(object["y"] == .number(.infinity))
        #expect(throws: SchedulerConfigError.self) { try SchedulerConfig(json: ["lambda_min_clipped": -5.1]) }
        // The file as diffusers saves it reads, -Infinity included.
        let dpm = try SchedulerConfig(contentsOf: TestFixtures.url("diffusion/schedulers/configs/DPMSolverMultistepScheduler.json"))
        #expect(!dpm.ignoredKeys.contains("lambda_min_clipped"))
    }

    @Test func stableDiffusionDefaultsEqualTheSD15ConfigFile() throws {
        // runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json (no timestep_spacing key).
        let json: JSONValue = [
            "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
            "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
            "steps_offset": 1, "trained_betas": .null,
        ]
        let fromFile = try NoiseSchedule(config: try SchedulerConfig(json: json))
        let builtIn = try NoiseSchedule(config: .stableDiffusion)
        #expect(fromFile.alphasCumprod == builtIn.alphasCumprod)
        for kind in SamplerKind.allCases {
            let a = try makeSampler(kind, schedule: fromFile, steps: 50)
            let b = try makeSampler(kind, schedule: builtIn, steps: 50)
            #expect(a.timesteps == b.timesteps, "\(kind)")
        }
        // What the SD 1.5 pipeline runs by default: PLMS, 50 steps, 981 first and repeated once.
        let plms = try makeSampler(.pndm, schedule: builtIn, steps: 50)
        #expect(plms.timesteps.count == 51)
        #expect(Array(plms.timesteps.prefix(4)) == [981, 961, 961, 941])
        #expect(plms.timesteps.last == 1)
    }

    @Test func refusesSettingsItDoesNotImplement() throws {
        #expect(throws: SchedulerConfigError(file: "scheduler_config.json", key: "rescale_betas_zero_snr",
                                             problem: "true is not supported: zero-terminal-SNR rescaling is not implemented")) {
            try SchedulerConfig(json: ["rescale_betas_zero_snr": true])
        }
        #expect(throws: SchedulerConfigError.self) { try SchedulerConfig(json: ["beta_schedule": "sigmoid"]) }
        #expect(throws: SchedulerConfigError.self) { try SchedulerConfig(json: ["skip_prk_steps": "yes"]) }
        #expect(throws: SchedulerConfigError.self) { try SchedulerConfig(json: ["solver_order": 3]) }
        #expect(throws: SchedulerConfigError.self) { try SchedulerConfig(json: ["num_train_timesteps": "many"]) }
        let schedule = try NoiseSchedule()
        #expect(throws: SamplerError.self) { try DDIMSampler(schedule: schedule, steps: 0) }
        #expect(throws: SamplerError.self) { try EulerSampler(schedule: schedule, steps: 1001) }
    }
}

/// Every sampler against diffusers on a short run (Tests/Fixtures/diffusion/schedulers/<run>.safetensors).
/// The "model" is the same fixed function on both sides: 0.1·input + sin(t/100).
@Suite struct SamplerTrajectoryTests {
    static let runs = [
        "ddim-leading", "ddim-trailing-v-eta", "ddim-linspace-alpha1", "ddim-defaults",
        "pndm-leading", "pndm-linspace-v", "pndm-trailing",
        "euler-linspace", "euler-leading-v", "euler-karras-trailing",
        "euler_ancestral-linspace", "euler_ancestral-leading-v",
        "dpmpp2m-linspace", "dpmpp2m-karras", "dpmpp2m-leading-v-20", "dpmpp2m-trailing",
        "dpmpp2m-heun-sigmamin", "euler-sigmamin-karras", "pndm-prk-cosine", "pndm-prk-leading-v",
    ]

    static func model(_ input: [Float], _ t: Float) -> [Float] {
        let bias = Float(sin(Double(t) / 100))
        return input.map { Float(0.1) * $0 + bias }
    }

    static func kind(_ name: String) throws -> SamplerKind {
        switch name {
        case "ddim": return .ddim
        case "pndm": return .pndm
        case "euler": return .euler
        case "euler_ancestral": return .eulerAncestral
        case "dpmpp2m": return .dpmSolverPlusPlus2M
        default: throw SamplerError(problem: "fixture names an unknown sampler \(name)")
        }
    }

    @Test(arguments: runs) func matchesDiffusersStepByStep(run: String) throws {
        let f = try TestFixtures.safetensors("diffusion/schedulers/\(run).safetensors")
        let meta = try f.fixtureMetadata()
        let json = try f.fixtureConfig()
        let schedule = try NoiseSchedule(config: try SchedulerConfig(json: json))
        let steps = try #require(meta["steps"] as? Int)
        let eta = try #require((meta["eta"] as? NSNumber)?.floatValue)
        let kind = try Self.kind(meta["sampler"] as? String ?? "")
        var sampler = try makeSampler(kind, schedule: schedule, steps: steps, eta: eta)

        let expectedTimesteps = try f.floats("timesteps")
        expectClose(sampler.timesteps, expectedTimesteps, rtol: 1e-6, atol: 1e-4, "\(run) timesteps")
        guard sampler.timesteps.count == expectedTimesteps.count else { return }
        if f.has("sigmas") {
            let sigmas: [Float]
            switch sampler {
            case let s as EulerSampler: sigmas = s.sigmas
            case let s as EulerAncestralSampler: sigmas = s.sigmas
            case let s as DPMSolverMultistepSampler: sigmas = s.sigmas
            default: sigmas = []
            }
            expectClose(sigmas, try f.floats("sigmas"), rtol: 1e-6, "\(run) sigmas")
        }
        expectClose([sampler.initNoiseSigma], try f.floats("init_noise_sigma"), rtol: 1e-6, "\(run) init_noise_sigma")

        let n = try f.floats("init_sample").count
        let inputs = try f.floats("model_inputs"), outputs = try f.floats("model_outputs")
        let samples = try f.floats("samples")
        let noise = f.has("noise") ? try f.floats("noise") : nil
        var sample = try f.floats("init_sample")
        for (i, t) in sampler.timesteps.enumerated() {
            let slice = (i * n)..<((i + 1) * n)
            let input = sampler.scaleModelInput(sample, timestep: t)
            expectClose(input, Array(inputs[slice]), rtol: 1e-5, atol: 1e-5, "\(run) model input at step \(i)")
            let output = Self.model(input, t)
            expectClose(output, Array(outputs[slice]), rtol: 1e-5, atol: 1e-5, "\(run) model output at step \(i)")
            sample = sampler.step(modelOutput: output, timestep: t, sample: sample,
                                  noise: sampler.usesNoise ? noise.map { Array($0[slice]) } : nil)
            expectClose(sample, Array(samples[slice]), rtol: 1e-5, atol: 1e-5, "\(run) sample after step \(i)")
        }
        #expect(sampler.stepIndex == expectedTimesteps.count)
    }
}

fileprivate extension SafeTensorsFile {
    func has(_ name: String) -> Bool { entries[name] != nil }

    /// The fixture script's parameters: one JSON object under the "fixture" metadata key.
    func fixtureMetadata() throws -> [String: Any] {
        let text = try #require(metadata["fixture"], "\(path) has no \"fixture\" metadata")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// The scheduler config the fixture script used, through the same reader as config files.
    func fixtureConfig() throws -> JSONValue {
        let text = try #require(metadata["fixture"], "\(path) has no \"fixture\" metadata")
        return try #require(try JSONValue.parse(Data(text.utf8), path: "\(path) metadata")["config"], "\(path) has no fixture config")
    }
}
