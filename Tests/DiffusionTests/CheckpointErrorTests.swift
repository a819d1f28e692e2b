// What a user sees for files the loader will not or cannot open: each message names the file
// and the tensor or key, and says what was expected.
import Foundation
import ModelIO
import Testing
@testable import Diffusion

@Suite struct CheckpointErrorTests {
    let sd1 = CheckpointFixtures.checkpoint("sd1_fp16.safetensors")

    /// A copy of the SD 1.x single file (with its sidecar) after `edit`.
    func editedSD1(_ dir: String, _ edit: (inout [String: (shape: [Int], values: [Float], dtype: SafeTensorsDType)]) -> Void) throws -> String {
        let stem = dir + "/" + UUID().uuidString
        let path = stem + ".safetensors"
        try CheckpointFixtures.rewrite(sd1, to: path, edit: edit)
        try FileManager.default.copyItem(atPath: CheckpointFixtures.checkpoint("sd1_fp16.json"), toPath: stem + ".json")
        return path
    }

    @Test func pickleFilesAreRefusedWithAWayOut() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // torch.save writes a zip; older files are a bare pickle (0x80 0x02 …).
        try Data([0x50, 0x4B, 0x03, 0x04, 0, 0]).write(to: URL(fileURLWithPath: dir + "/model.ckpt"))
        try Data([0x80, 0x02, 0x7D, 0x71]).write(to: URL(fileURLWithPath: dir + "/renamed.safetensors"))
        for name in ["model.ckpt", "renamed.safetensors"] {
            let text = errorText { _ = try StableDiffusionCheckpoint.open(dir + "/" + name) }
            #expect(text?.hasPrefix(dir + "/" + name + ": pickle checkpoints") == true, "\(text ?? "no error")")
            #expect(text?.contains("run arbitrary code") == true && text?.contains("safetensors") == true)
        }
        // A folder whose component only has pytorch_model.bin.
        let folder = dir + "/pipeline"
        try CheckpointFixtures.copy(CheckpointFixtures.model("sd1-tiny"), to: folder)
        try FileManager.default.removeItem(atPath: folder + "/text_encoder/model.safetensors")
        try Data([0x50, 0x4B, 0x03, 0x04]).write(to: URL(fileURLWithPath: folder + "/text_encoder/pytorch_model.bin"))
        #expect(throws: CheckpointError.pickleRefused(path: folder + "/text_encoder/pytorch_model.bin")) {
            _ = try StableDiffusionCheckpoint.open(folder)
        }
    }

    @Test func missingTensorIsNamed() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try editedSD1(dir) { $0["first_stage_model.decoder.conv_in.weight"] = nil }
        #expect(throws: CheckpointError.missingTensor(path: path, name: "first_stage_model.decoder.conv_in.weight")) {
            _ = try StableDiffusionCheckpoint.open(path)
        }
        let noUNet = try editedSD1(dir) { t in for k in t.keys where k.hasPrefix("model.diffusion_model.") { t[k] = nil } }
        #expect(errorText { _ = try StableDiffusionCheckpoint.open(noUNet) }?.contains("no model.diffusion_model.* tensors") == true)
    }

    @Test func unexpectedShapeIsNamed() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // One up-block attention attending to 24-wide context while the others take 32.
        let key = "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.attn2.to_v.weight"
        let path = try editedSD1(dir) { t in
            let s = t[key]!.shape
            t[key] = ([s[0], 24], Array(repeating: 0, count: s[0] * 24), .f16)
        }
        #expect(throws: CheckpointError.unexpectedShape(path: path, name: key, shape: [16, 24], expected: "[16, 32] (cross_attention_dim 32)")) {
            _ = try StableDiffusionCheckpoint.open(path)
        }
        // OpenCLIP's fused q/k/v must be three blocks of the model width.
        let sd2 = dir + "/sd2.safetensors"
        let inProj = "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"
        try CheckpointFixtures.rewrite(CheckpointFixtures.checkpoint("sd2_bf16.safetensors"), to: sd2) { t in
            t[inProj] = ([64, 32], Array(repeating: 0, count: 64 * 32), .bf16)
        }
        try FileManager.default.copyItem(atPath: CheckpointFixtures.checkpoint("sd2_bf16.json"), toPath: dir + "/sd2.json")
        #expect(throws: CheckpointError.unexpectedShape(path: sd2, name: inProj, shape: [64, 32], expected: "[96, 32] (q, k and v stacked)")) {
            _ = try StableDiffusionCheckpoint.open(sd2)
        }
    }

    @Test func foreignTensorsAreNotSilentlyDropped() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try editedSD1(dir) { $0["control_model.input_hint_block.0.weight"] = ([2], [0, 0], .f16) }
        #expect(throws: CheckpointError.unknownTensor(path: path, name: "control_model.input_hint_block.0.weight")) {
            _ = try StableDiffusionCheckpoint.open(path)
        }
        let sdxl = try editedSD1(dir) { $0["conditioner.embedders.1.model.positional_embedding"] = ([2], [0, 0], .f16) }
        #expect(errorText { _ = try StableDiffusionCheckpoint.open(sdxl) }?.contains("SDXL is not supported yet") == true)
    }

    @Test func unsupportedFolderConfigsNameTheKey() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = dir + "/pipeline"
        try CheckpointFixtures.copy(CheckpointFixtures.model("sd1-tiny"), to: folder)
        let configPath = folder + "/unet/config.json"
        let original = try String(contentsOfFile: configPath, encoding: .utf8)
        try original.replacingOccurrences(of: "\"addition_embed_type\": null", with: "\"addition_embed_type\": \"text_time\"")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        #expect(throws: CheckpointError.unsupportedConfig(path: configPath, key: "addition_embed_type", value: "\"text_time\"", reason: "SDXL is not supported yet")) {
            _ = try StableDiffusionCheckpoint.open(folder)
        }
        try original.replacingOccurrences(of: "\"conv_in_kernel\": 3", with: "\"conv_in_kernel\": 7")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        #expect(errorText { _ = try StableDiffusionCheckpoint.open(folder) }?.hasPrefix(configPath + ": conv_in_kernel = 7 is not supported") == true)

        try original.write(toFile: configPath, atomically: true, encoding: .utf8)
        let index = folder + "/model_index.json"
        try #"{"_class_name": "StableDiffusionXLPipeline", "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"]}"#
            .write(toFile: index, atomically: true, encoding: .utf8)
        #expect(errorText { _ = try StableDiffusionCheckpoint.open(folder) }?.contains("SDXL is not supported yet") == true)
    }

    @Test func notACheckpointAtAll() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(errorText { _ = try StableDiffusionCheckpoint.open(dir) }?.contains("model_index.json") == true)
        #expect(errorText { _ = try StableDiffusionCheckpoint.open(dir + "/absent.safetensors") }?.contains("no such file") == true)
        try "hello".write(toFile: dir + "/x.safetensors", atomically: true, encoding: .utf8)
        #expect(errorText { _ = try StableDiffusionCheckpoint.open(dir + "/x.safetensors") }?.contains("not a valid safetensors file") == true)
        try #"{"prediction_type": "v"}"#.write(toFile: dir + "/s.json", atomically: true, encoding: .utf8)
        let badSidecar = errorText { _ = try StableDiffusionCheckpoint.open(sd1, options: .init(sidecarPath: dir + "/s.json")) }
        #expect(badSidecar == "\(dir)/s.json: prediction_type should be \"epsilon\" or \"v_prediction\", found \"v\"")
    }
}

/// The other spellings real single files use for the same tensors.
@Suite struct CheckpointNamingTests {
    @Test func sd1FileWithoutTextModelLevelLoadsTheSame() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Files saved with transformers < 4.18: cond_stage_model.transformer.embeddings.…
        let path = dir + "/old.safetensors"
        try CheckpointFixtures.rewrite(CheckpointFixtures.checkpoint("sd1_fp16.safetensors"), to: path) { t in
            for (k, v) in t where k.hasPrefix("cond_stage_model.transformer.text_model.") {
                t[k] = nil
                t[k.replacingOccurrences(of: "transformer.text_model.", with: "transformer.")] = v
            }
        }
        try FileManager.default.copyItem(atPath: CheckpointFixtures.checkpoint("sd1_fp16.json"), toPath: dir + "/old.json")
        let old = try StableDiffusionCheckpoint.open(path)
        let new = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd1_fp16.safetensors"))
        #expect(Set(old.textEncoderWeights.tensorNames) == Set(new.textEncoderWeights.tensorNames))
        let name = "encoder.layers.1.self_attn.q_proj.weight"
        #expect(try old.textEncoderWeights.tensor(named: name)?.scalars == new.textEncoderWeights.tensor(named: name)?.scalars)
    }

    /// Some converted files store the VAE attention as linear [C, C] already.
    @Test func vaeAttentionAsLinearOrConv() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/linear.safetensors"
        try CheckpointFixtures.rewrite(CheckpointFixtures.checkpoint("sd1_fp16.safetensors"), to: path) { t in
            for (k, v) in t where k.contains("mid.attn_1.") && v.shape.count == 4 { t[k] = (Array(v.shape.prefix(2)), v.values, v.dtype) }
        }
        try FileManager.default.copyItem(atPath: CheckpointFixtures.checkpoint("sd1_fp16.json"), toPath: dir + "/linear.json")
        let a = try StableDiffusionCheckpoint.open(path).vaeWeights
        let b = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd1_fp16.safetensors")).vaeWeights
        for part in ["to_q", "to_k", "to_v", "to_out.0"] {
            let name = "encoder.mid_block.attentions.0.\(part).weight"
            #expect(a.shape(of: name) == b.shape(of: name) && b.shape(of: name)?.count == 2)
            #expect(try a.tensor(named: name)?.scalars == b.tensor(named: name)?.scalars)
        }
    }

    @Test func ldmNamesMapAsDocumented() {
        let layout = LDMLayout(unetLayersPerBlock: 2, vaeLevels: 4, openCLIPResblocks: 24)
        func one(_ n: String) -> String? {
            if case .mapped(let t) = CheckpointNames.map(n, layout: layout), t.count == 1 { return t[0].name }
            return nil
        }
        // SD 1.5's real names.
        #expect(one("model.diffusion_model.input_blocks.3.0.op.weight") == "down_blocks.0.downsamplers.0.conv.weight")
        #expect(one("model.diffusion_model.input_blocks.4.0.skip_connection.bias") == "down_blocks.1.resnets.0.conv_shortcut.bias")
        #expect(one("model.diffusion_model.input_blocks.8.1.proj_in.weight") == "down_blocks.2.attentions.1.proj_in.weight")
        #expect(one("model.diffusion_model.middle_block.2.emb_layers.1.weight") == "mid_block.resnets.1.time_emb_proj.weight")
        #expect(one("model.diffusion_model.output_blocks.2.1.conv.weight") == "up_blocks.0.upsamplers.0.conv.weight")
        #expect(one("model.diffusion_model.output_blocks.5.2.conv.bias") == "up_blocks.1.upsamplers.0.conv.bias")
        #expect(one("model.diffusion_model.output_blocks.11.1.transformer_blocks.0.ff.net.0.proj.weight")
                == "up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj.weight")
        #expect(one("model.diffusion_model.out.2.weight") == "conv_out.weight")
        #expect(one("first_stage_model.decoder.up.3.upsample.conv.weight") == "decoder.up_blocks.0.upsamplers.0.conv.weight")
        #expect(one("first_stage_model.decoder.up.0.block.2.nin_shortcut.weight") == "decoder.up_blocks.3.resnets.2.conv_shortcut.weight")
        #expect(one("first_stage_model.encoder.mid.attn_1.proj_out.bias") == "encoder.mid_block.attentions.0.to_out.0.bias")
        #expect(one("cond_stage_model.model.transformer.resblocks.22.mlp.c_proj.weight") == "encoder.layers.22.mlp.fc2.weight")
        #expect(CheckpointNames.map("cond_stage_model.model.transformer.resblocks.23.mlp.c_proj.weight", layout: layout) == .skipped)
        #expect(CheckpointNames.map("model_ema.diffusion_modelinput_blocks00weight", layout: layout) == .skipped)
        #expect(CheckpointNames.map("first_stage_model.loss.discriminator.main.0.weight", layout: layout) == .skipped)
        #expect(CheckpointNames.map("model.diffusion_model.label_emb.0.0.weight", layout: layout) == .unknown)
        guard case .mapped(let qkv) = CheckpointNames.map("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias", layout: layout) else {
            Issue.record("in_proj not mapped"); return
        }
        #expect(qkv.map(\.name) == ["encoder.layers.0.self_attn.q_proj.bias", "encoder.layers.0.self_attn.k_proj.bias", "encoder.layers.0.self_attn.v_proj.bias"])
        #expect(qkv.map(\.transform) == [.thirdOfRows(part: 0), .thirdOfRows(part: 1), .thirdOfRows(part: 2)])
        #expect(CheckpointNames.diffusersName("decoder.mid_block.attentions.0.proj_attn.weight", component: .vae) == "decoder.mid_block.attentions.0.to_out.0.weight")
        #expect(CheckpointNames.diffusersName("text_model.final_layer_norm.bias", component: .textEncoder) == "final_layer_norm.bias")
    }
}

@Suite struct CheckpointTensorReadingTests {
    /// safetensors aligns only the data section: a float32 tensor after an odd number of
    /// 16-bit values cannot be wrapped in place and is copied instead.
    @Test func misalignedFloat32IsCopiedAndHalfIsWidened() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = SafeTensorsWriter()
        w.add("a_half", shape: [3], values: [1, -2, 0.5], dtype: .f16)
        w.add("b_float", shape: [2, 2], values: [1, 2, 3, 4])
        w.add("c_bf16", shape: [2], values: [3.5, -1], dtype: .bf16)
        try w.write(to: dir + "/t.safetensors")
        let files = try TensorFiles(path: dir + "/t.safetensors")
        let f = try TensorFiles.load(files.tensors["b_float"]!)
        #expect(f.scalars == [1, 2, 3, 4] && f.shape == [2, 2])
        #expect(f.storage.isWritable)   // a copy: the mapped bytes were not 4-aligned
        #expect(try TensorFiles.load(files.tensors["a_half"]!).scalars == [1, -2, 0.5])
        #expect(try TensorFiles.load(files.tensors["c_bf16"]!).scalars == [3.5, -1])
        #expect(try TensorFiles.load(files.tensors["b_float"]!, rows: 1..<2).scalars == [3, 4])
    }

    /// A diffusers folder is not checked tensor by tensor at open; the model building from it
    /// names the missing parameter.
    @Test func missingTensorInAFolderIsNamedByTheModel() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = dir + "/pipeline"
        try CheckpointFixtures.copy(CheckpointFixtures.model("sd1-tiny"), to: folder)
        let unetFile = folder + "/unet/diffusion_pytorch_model.safetensors"
        try CheckpointFixtures.rewrite(CheckpointFixtures.model("sd1-tiny/unet/diffusion_pytorch_model.safetensors"), to: unetFile + ".new") {
            $0["mid_block.attentions.0.proj_out.weight"] = nil
        }
        try FileManager.default.removeItem(atPath: unetFile)
        try FileManager.default.moveItem(atPath: unetFile + ".new", toPath: unetFile)
        let ckpt = try StableDiffusionCheckpoint.open(folder)
        let text = errorText { _ = try UNet2DConditionModel(config: ckpt.unetConfig, weights: ckpt.unetWeights) }
        #expect(text?.contains("no tensor mid_block.attentions.0.proj_out.weight") == true, "\(text ?? "no error")")
    }
}
