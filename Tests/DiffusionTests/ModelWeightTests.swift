import Foundation
import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// Loading parameters: errors that name the tensor and the expected shape, configuration
/// errors that name the field, layout conversion, float16 sources, unused tensors.
@Suite struct ModelWeightTests {
    /// All tensors of one part of a tiny model, in memory (to remove or change some).
    func tensors(_ model: String, _ part: String, file: String = "diffusion_pytorch_model.safetensors") throws -> [String: Tensor] {
        let source = try TinyModel(name: model).weights(part, file: file)
        var all: [String: Tensor] = [:]
        for name in source.tensorNames { all[name] = try source.tensor(named: name)! }
        return all
    }

    @Test func missingTensorIsNamedWithItsShape() throws {
        var t = try tensors("sd1-tiny", "unet")
        t["down_blocks.0.resnets.1.conv1.weight"] = nil
        let config = try TinyModel(name: "sd1-tiny").unetConfig()
        let error = try #require(throws: WeightError.self) { try UNet2DConditionModel(config: config, weights: InMemoryWeights(t)) }
        #expect(error == .missing(name: "down_blocks.0.resnets.1.conv1.weight", expectedShape: [16, 16, 3, 3]))
        #expect(error.description.contains("down_blocks.0.resnets.1.conv1.weight") && error.description.contains("[16, 16, 3, 3]"))
    }

    @Test func configThatDoesNotFitTheWeightsNamesTensorAndShapes() throws {
        var config = try TinyModel(name: "sd1-tiny").unetConfig()
        config.crossAttentionDim = 64
        let error = try #require(throws: WeightError.self) {
            try UNet2DConditionModel(config: config, weights: try TinyModel(name: "sd1-tiny").weights("unet"))
        }
        #expect(error == .wrongShape(name: "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                                     expectedShape: [16, 64], actualShape: [16, 32]))
    }

    @Test func sdxlConditioningIsRefusedByField() throws {
        var config = UNetConfig()
        config.additionEmbedType = "text_time"
        let error = try #require(throws: ModelConfigError.self) { try config.validate() }
        #expect(error.description.contains("addition_embed_type") && error.description.contains("not supported yet"))
        var heads = UNetConfig()
        heads.attentionHeadDim = [8, 8, 7, 8]
        let headError = try #require(throws: ModelConfigError.self) { try heads.validate() }
        #expect(headError.description.contains("attention_head_dim"))
        try UNetConfig().validate()     // SD 1.5's defaults are valid
        try VAEConfig().validate()
        try CLIPTextConfig().validate()
    }

    @Test(arguments: TinyModel.names)
    func everyTensorIsUsed(model: String) throws {
        let tiny = TinyModel(name: model)
        #expect(try tiny.unet().unusedTensorNames == [])
        #expect(try tiny.vae().unusedTensorNames == [])
        #expect(try tiny.textEncoder().unusedTensorNames == [])
        var t = try tensors(model, "vae")
        t["encoder.extra.weight"] = Tensor(zeros: [1])
        #expect(try AutoencoderKL(config: try tiny.vaeConfig(), weights: InMemoryWeights(t)).unusedTensorNames == ["encoder.extra.weight"])
    }

    /// OIHW → [O, KH, KW, I]: element (o, i, y, x) lands at ((o·KH + y)·KW + x)·I + i.
    @Test func convWeightsBecomeChannelsLast() throws {
        let (o, i, k) = (2, 3, 3)
        let values = (0..<(o * i * k * k)).map(Float.init)
        let reader = WeightReader(InMemoryWeights(["c.weight": Tensor(values, shape: [o, i, k, k])]))
        let w = try reader.convWeight("c.weight", out: o, in: i, kernel: k)
        #expect(w.shape == [o, k, k, i])
        for oo in 0..<o { for ii in 0..<i { for y in 0..<k { for x in 0..<k {
            #expect(w.data[((oo * k + y) * k + x) * i + ii] == values[((oo * i + ii) * k + y) * k + x])
        } } } }
        #expect(reader.parameters["c.weight"]?.shape == [o, k, k, i])
    }

    /// A float16 checkpoint loads (widened on read) and decodes close to the float32 one.
    @Test func float16WeightsLoad() throws {
        let tiny = TinyModel(name: "sd1-tiny")
        var writer = SafeTensorsWriter()
        for (name, t) in try tensors("sd1-tiny", "vae").sorted(by: { $0.key < $1.key }) {
            writer.add(name, shape: t.shape, values: t.scalars, dtype: .f16)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vae-f16-\(UUID().uuidString).safetensors").path
        try writer.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let vae = try AutoencoderKL(config: try tiny.vaeConfig(), weights: try SafeTensorsWeights(path: path))
        let ref = try tiny.outputs("vae")
        let image = noGrad { vae.decode(try! ref.tensor("latents", nhwc: true)) }
        expectClose(nchwValues(image), try ref.floats("decoded"), rtol: 2e-2, atol: 2e-2, "float16 VAE decode")
    }

    /// The fixtures tell the activations apart: the SD 1 text encoder run with GELU instead
    /// of its quick_gelu does not match (so the parity tests can fail).
    @Test func wrongActivationDoesNotMatch() throws {
        let tiny = TinyModel(name: "sd1-tiny")
        var config = try tiny.textConfig()
        config.hiddenAct = .gelu
        let encoder = try CLIPTextModel(config: config, weights: try tiny.weights("text_encoder", file: "model.safetensors"))
        let ref = try tiny.outputs("text_encoder")
        let ids = try ref.floats("input_ids").map { Int($0) }
        let l = try ref.entry("input_ids").shape[1]
        let out = noGrad { encoder.encode([Array(ids[0..<l]), Array(ids[l..<2 * l])]) }.lastHiddenState.scalars
        let expected = try ref.floats("last_hidden_state")
        let worst = zip(out, expected).map { abs($0 - $1) / (modelAtol + modelRtol * abs($1)) }.max() ?? 0
        #expect(worst > 10)
    }
}
