import Foundation
import Testing
import ModelIO
import TensorEngine
import Diffusion
@testable import Training
import TestSupport

/// One case of scripts/fixtures/training.py (Tests/Fixtures/training/<case>.safetensors): the
/// inputs diffusers+peft trained on, their losses, gradients and parameters after AdamW, and
/// the case's settings (the "config" metadata, JSON).
struct TrainingFixture {
    let file: SafeTensorsFile
    let config: [String: Any]

    init(_ name: String) throws {
        file = try TestFixtures.safetensors("training/\(name).safetensors")
        let json = try #require(file.metadata["config"])
        config = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    func float(_ key: String) -> Float? { (config[key] as? NSNumber)?.floatValue }
    func int(_ key: String) -> Int? { (config[key] as? NSNumber)?.intValue }
    var steps: [[Int]] { config["steps"] as! [[Int]] }
    var modelName: String { config["model"] as! String }

    func has(_ name: String) -> Bool { file.entries[name] != nil }
    func floats(_ name: String) throws -> [Float] { try file.floats(name) }
    func value(_ name: String) throws -> Float { try file.floats(name)[0] }

    /// The tiny model the case trained, loaded into owned (writable) memory.
    func models() throws -> (unet: UNet2DConditionModel, text: CLIPTextModel, schedule: NoiseSchedule) {
        let folder = TestFixtures.path("models/\(modelName)")
        let checkpoint = try StableDiffusionCheckpoint.open(folder)
        let unet = try UNet2DConditionModel(config: checkpoint.unetConfig,
                                            weights: try SafeTensorsWeights(path: folder + "/unet/diffusion_pytorch_model.safetensors"))
        let text = try CLIPTextModel(config: checkpoint.textEncoderConfig,
                                     weights: try SafeTensorsWeights(path: folder + "/text_encoder/model.safetensors"),
                                     endOfTextTokenID: checkpoint.endOfTextTokenID ?? 49407)
        return (unet, text, try NoiseSchedule(config: checkpoint.schedulerConfig))
    }

    /// Micro-batch `i` (latents and noise permuted to channels-last), conditioned on token ids.
    func batch(_ i: Int) throws -> TrainingBatch {
        let idShape = try file.entry("m\(i).ids").shape
        let flat = try file.ints("m\(i).ids")
        let ids = (0..<idShape[0]).map { Array(flat[($0 * idShape[1])..<(($0 + 1) * idShape[1])]) }
        var offset: Tensor?
        if has("m\(i).offset") {
            let shape = try file.entry("m\(i).offset").shape
            offset = Tensor(try file.floats("m\(i).offset"), shape: [shape[0], shape[1]])
        }
        return TrainingBatch(latents: try file.tensor("m\(i).latents", nhwc: true), noise: try file.tensor("m\(i).noise", nhwc: true), offsetNoise: offset,
                             timesteps: try file.ints("m\(i).timesteps"), conditioning: .tokenIDs(ids))
    }

    var adam: AdamW.Hyperparameters {
        AdamW.Hyperparameters(beta1: float("beta1")!, beta2: float("beta2")!, eps: float("eps")!, weightDecay: float("weightDecay")!)
    }

    func optimizerOptions() -> OptimizerOptions {
        OptimizerOptions(learningRate: float("lr")!, totalSteps: steps.count, adam: adam, maxGradNorm: float("maxGradNorm"),
                         gradientAccumulationSteps: int("accumulation") ?? 1)
    }

    func lossOptions() -> LossOptions {
        LossOptions(minSNRGamma: float("snrGamma"), noiseOffset: float("noiseOffset") ?? 0, priorLossWeight: float("priorWeight"))
    }
}

/// The stated tolerances: losses rtol 1e-5; gradients rtol 1e-4 (atol 1e-6 for entries near
/// zero); parameters after AdamW rtol 1e-5 plus atol 1% of the learning rate. The absolute
/// part is for entries whose gradient is within ~100·eps of zero: AdamW's first update is
/// lr·g/(|g| + eps), which there turns a float32 rounding difference in g into a visible
/// change of the step. Fed the reference gradients, AdamW matches to rtol 1e-6
/// (AdamWParityTests).
enum Tolerance {
    static let loss: (rtol: Float, atol: Float) = (1e-5, 1e-7)
    static let gradient: (rtol: Float, atol: Float) = (1e-4, 1e-6)
    static func parameter(learningRate: Float) -> (rtol: Float, atol: Float) { (1e-5, 1e-2 * learningRate) }
}
