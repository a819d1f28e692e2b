import Foundation
import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// The tiny diffusers models of scripts/fixtures/tiny_models.py (Tests/Fixtures/models/<name>/)
/// and their reference outputs (Tests/Fixtures/models/outputs/<name>-<part>.safetensors,
/// PyTorch layout).
struct TinyModel {
    static let root = TestFixtures.url("models")
    static let names = ["sd1-tiny", "sd2-tiny"]

    let name: String
    var folder: URL { TinyModel.root.appendingPathComponent(name) }

    func weights(_ part: String, file: String = "diffusion_pytorch_model.safetensors") throws -> SafeTensorsWeights {
        try SafeTensorsWeights(path: folder.appendingPathComponent(part).appendingPathComponent(file).path)
    }

    func outputs(_ part: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: TinyModel.root.appendingPathComponent("outputs").appendingPathComponent("\(name)-\(part).safetensors").path)
    }

    /// config.json as a dictionary. (Test-only reading: the library's config parsing lives
    /// with the checkpoint loader.)
    func config(_ part: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent(part).appendingPathComponent("config.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func textConfig() throws -> CLIPTextConfig {
        let j = try config("text_encoder")
        return CLIPTextConfig(vocabSize: j.int("vocab_size"), hiddenSize: j.int("hidden_size"),
                              intermediateSize: j.int("intermediate_size"), numHiddenLayers: j.int("num_hidden_layers"),
                              numAttentionHeads: j.int("num_attention_heads"),
                              maxPositionEmbeddings: j.int("max_position_embeddings"),
                              hiddenAct: CLIPActivation(rawValue: j["hidden_act"] as! String)!,
                              layerNormEps: j.float("layer_norm_eps"))
    }

    func unetConfig() throws -> UNetConfig {
        let j = try config("unet")
        let blocks = (j["block_out_channels"] as! [Int]).count
        return UNetConfig(inChannels: j.int("in_channels"), outChannels: j.int("out_channels"),
                          blockOutChannels: j["block_out_channels"] as! [Int],
                          layersPerBlock: j.perBlock("layers_per_block", blocks),
                          downBlockTypes: j["down_block_types"] as! [String], midBlockType: j["mid_block_type"] as? String,
                          upBlockTypes: j["up_block_types"] as! [String],
                          attentionHeadDim: j.perBlock("attention_head_dim", blocks),
                          numAttentionHeads: j["num_attention_heads"] is NSNull ? nil : j.perBlock("num_attention_heads", blocks),
                          crossAttentionDim: j.int("cross_attention_dim"),
                          useLinearProjection: j["use_linear_projection"] as? Bool ?? false,
                          upcastAttention: j["upcast_attention"] as? Bool ?? false,
                          transformerLayersPerBlock: j.perBlock("transformer_layers_per_block", blocks),
                          normNumGroups: j.int("norm_num_groups"), normEps: j.float("norm_eps"),
                          flipSinToCos: j["flip_sin_to_cos"] as! Bool, freqShift: j.float("freq_shift"))
    }

    func vaeConfig() throws -> VAEConfig {
        let j = try config("vae")
        return VAEConfig(inChannels: j.int("in_channels"), outChannels: j.int("out_channels"),
                         blockOutChannels: j["block_out_channels"] as! [Int], layersPerBlock: j.int("layers_per_block"),
                         latentChannels: j.int("latent_channels"), scalingFactor: j.float("scaling_factor"),
                         normNumGroups: j.int("norm_num_groups"))
    }

    func textEncoder() throws -> CLIPTextModel {
        let eos = try config("text_encoder").int("eos_token_id")
        return try CLIPTextModel(config: try textConfig(), weights: try weights("text_encoder", file: "model.safetensors"),
                                 endOfTextTokenID: eos)
    }
    func unet() throws -> UNet2DConditionModel { try UNet2DConditionModel(config: try unetConfig(), weights: try weights("unet")) }
    func vae() throws -> AutoencoderKL { try AutoencoderKL(config: try vaeConfig(), weights: try weights("vae")) }
}

extension [String: Any] {
    func int(_ key: String) -> Int { (self[key] as! NSNumber).intValue }
    func float(_ key: String) -> Float { (self[key] as! NSNumber).floatValue }
    func perBlock(_ key: String, _ n: Int) -> [Int] {
        if let list = self[key] as? [Int] { return list }
        return [Int](repeating: int(key), count: n)
    }
}

/// Values of an NHWC tensor in NCHW order (to compare with PyTorch's outputs).
func nchwValues(_ t: Tensor) -> [Float] { noGrad { t.permuted([0, 3, 1, 2]).scalars } }

/// The stated tolerance for whole-model outputs: relative 1e-4, plus an absolute 1e-5 for
/// values near zero (float32 sums in a different order).
let modelRtol: Float = 1e-4
let modelAtol: Float = 1e-5
