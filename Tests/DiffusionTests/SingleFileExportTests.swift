import Foundation
import Testing
import ModelIO
import TensorEngine
@testable import Diffusion

/// Writing a model as one LDM-layout .safetensors and reading it back.
@Suite struct SingleFileExportTests {
    /// Every tensor of every component of `a` equals `b`'s (after `b` is rounded to `dtype`).
    func expectSameModel(_ a: StableDiffusionCheckpoint, _ b: StableDiffusionCheckpoint, storedAs dtype: SafeTensorsDType = .f32,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(a.unetConfig == b.unetConfig, sourceLocation: sourceLocation)
        #expect(a.vaeConfig == b.vaeConfig, sourceLocation: sourceLocation)
        #expect(a.textEncoderConfig == b.textEncoderConfig, sourceLocation: sourceLocation)
        #expect(a.schedulerConfig.predictionType == b.schedulerConfig.predictionType, sourceLocation: sourceLocation)
        for c in CheckpointComponent.allCases {
            let x = a.weights(c), y = b.weights(c)
            #expect(Set(x.tensorNames) == Set(y.tensorNames), "\(c)", sourceLocation: sourceLocation)
            var differing: [String] = []
            for name in y.tensorNames.sorted() {
                guard let s = try x.tensor(named: name), let t = try y.tensor(named: name) else { differing.append(name); continue }
                if s.shape != t.shape || s.scalars != t.scalars.map({ roundedLikeStorage($0, dtype) }) { differing.append(name) }
            }
            #expect(differing.isEmpty, "\(c): \(differing.count) tensors differ, e.g. \(differing.prefix(3))", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: ["sd1-tiny", "sd2-tiny"])
    func exportedModelReadsBackIdentical(model: String) throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try StableDiffusionCheckpoint.open(CheckpointFixtures.model(model))
        let path = dir + "/\(model).safetensors"
        let sidecar = try SingleFileExport.write(base: base, to: path, options: .init(dtype: .f32, metadata: ["ss_base_model": model]))
        // The tiny models' heads and norm groups are not SD's: shapes cannot tell them.
        #expect(sidecar == dir + "/\(model).json")
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))

        let reopened = try StableDiffusionCheckpoint.open(path)
        #expect(reopened.format == .singleFile(family: model == "sd1-tiny" ? .sd1 : .sd2))
        try expectSameModel(reopened, base)
        let header = try SafeTensorsFile(path: path).metadata
        #expect(header["ss_base_model"] == model)
        #expect(header["format"] == "pt")
    }

    /// The committed single files were converted by diffusers' own script
    /// (scripts/fixtures/single_file.py): the same names, and the same values once rounded.
    @Test(arguments: [("sd1-tiny", "sd1_fp16.safetensors", SafeTensorsDType.f16), ("sd2-tiny", "sd2_bf16.safetensors", .bf16)])
    func exportMatchesTheReferenceSingleFile(model: String, fixture: String, dtype: SafeTensorsDType) throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.safetensors"
        try SingleFileExport.write(base: try StableDiffusionCheckpoint.open(CheckpointFixtures.model(model)), to: path,
                                   options: .init(dtype: dtype))
        let ours = try SafeTensorsFile(path: path), reference = try SafeTensorsFile(path: CheckpointFixtures.checkpoint(fixture))
        let reopened = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint(fixture))
        let layout = try LDMExportPlan(base: reopened, path: path).layout
        // Every name we write is in the reference; what it has beyond ours nothing reads.
        #expect(Set(ours.entries.keys).subtracting(reference.entries.keys).isEmpty)
        for name in Set(reference.entries.keys).subtracting(ours.entries.keys) {
            #expect(CheckpointNames.map(name, layout: layout) == .skipped, "\(name)")
        }
        var differing: [String] = []
        for name in ours.entries.keys.sorted() where CheckpointNames.map(name, layout: layout) != .skipped {
            if try ours.entry(name).shape != reference.entry(name).shape || ours.floats(name) != reference.floats(name) { differing.append(name) }
        }
        #expect(differing.isEmpty, "\(differing.count) tensors differ, e.g. \(differing.prefix(3))")
    }

    /// A single-file base (as downloaded from a model site) exports back to itself, the
    /// OpenCLIP tensors SD 2.x never reads included.
    @Test(arguments: [("sd1_fp16.safetensors", SafeTensorsDType.f16), ("sd2_bf16.safetensors", .bf16)])
    func singleFileBaseRoundTrips(fixture: String, dtype: SafeTensorsDType) throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint(fixture))
        let path = dir + "/again.safetensors"
        try SingleFileExport.write(base: base, to: path, options: .init(dtype: dtype))
        try expectSameModel(try StableDiffusionCheckpoint.open(path), base)
        let ours = try SafeTensorsFile(path: path), reference = try SafeTensorsFile(path: CheckpointFixtures.checkpoint(fixture))
        for name in ours.entries.keys where name.hasPrefix("cond_stage_model.model.") {
            #expect(try ours.floats(name) == reference.floats(name), "\(name)")
        }
    }

    @Test func replacementsAreWrittenInPlaceOfTheBase() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd2-tiny"))
        let convIn = try #require(try base.unetWeights.tensor(named: "conv_in.weight"))
        let q = try #require(try base.textEncoderWeights.tensor(named: "encoder.layers.1.self_attn.k_proj.weight"))
        let trained = Tensor(convIn.scalars.map { $0 + 1 }, shape: convIn.shape)
        let trainedK = Tensor(q.scalars.map { -$0 }, shape: q.shape)
        let path = dir + "/dreambooth.safetensors"
        try SingleFileExport.write(base: base, replacements: [.unet: ["conv_in.weight": trained],
                                                              .textEncoder: ["encoder.layers.1.self_attn.k_proj.weight": trainedK]],
                                   to: path, options: .init(dtype: .f32))
        let reopened = try StableDiffusionCheckpoint.open(path)
        #expect(try reopened.unetWeights.tensor(named: "conv_in.weight")?.scalars == trained.scalars)
        #expect(try reopened.textEncoderWeights.tensor(named: "encoder.layers.1.self_attn.k_proj.weight")?.scalars == trainedK.scalars)
        #expect(try reopened.textEncoderWeights.tensor(named: "encoder.layers.1.self_attn.q_proj.weight")?.scalars
                == base.textEncoderWeights.tensor(named: "encoder.layers.1.self_attn.q_proj.weight")?.scalars)
        #expect(try reopened.unetWeights.tensor(named: "conv_out.weight")?.scalars == base.unetWeights.tensor(named: "conv_out.weight")?.scalars)
    }

    @Test func badReplacementsAreRefusedByName() throws {
        let base = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd1-tiny"))
        let wrong = errorText {
            try SingleFileExport.write(base: base, replacements: [.unet: ["conv_in.weight": Tensor(zeros: [1, 2])]], to: "/nonexistent/x.safetensors")
        }
        #expect(wrong?.contains("conv_in.weight has shape [1, 2]") == true)
        let unknown = errorText {
            try SingleFileExport.write(base: base, replacements: [.vae: ["no.such.weight": Tensor(zeros: [1])]], to: "/nonexistent/x.safetensors")
        }
        #expect(unknown?.contains("no.such.weight is not in the base model") == true)
    }

    @Test func namesInvertTheLoaderMapping() {
        let L = 2
        #expect(LDMExportPlan.ldmUNetName("down_blocks.1.resnets.0.norm1.weight", layersPerBlock: L, upBlockHasAttention: { _ in true })
                == "input_blocks.4.0.in_layers.0.weight")
        #expect(LDMExportPlan.ldmUNetName("down_blocks.0.downsamplers.0.conv.bias", layersPerBlock: L, upBlockHasAttention: { _ in true })
                == "input_blocks.3.0.op.bias")
        #expect(LDMExportPlan.ldmUNetName("up_blocks.0.upsamplers.0.conv.weight", layersPerBlock: L, upBlockHasAttention: { _ in false })
                == "output_blocks.2.1.conv.weight")
        #expect(LDMExportPlan.ldmUNetName("up_blocks.1.upsamplers.0.conv.weight", layersPerBlock: L, upBlockHasAttention: { _ in true })
                == "output_blocks.5.2.conv.weight")
        #expect(LDMExportPlan.ldmUNetName("mid_block.attentions.0.proj_in.weight", layersPerBlock: L, upBlockHasAttention: { _ in true })
                == "middle_block.1.proj_in.weight")
        #expect(LDMExportPlan.ldmVAEName("decoder.up_blocks.0.resnets.0.conv_shortcut.weight", levels: 4)
                == "decoder.up.3.block.0.nin_shortcut.weight")
        #expect(LDMExportPlan.ldmVAEName("encoder.mid_block.attentions.0.to_out.0.bias", levels: 4) == "encoder.mid.attn_1.proj_out.bias")
    }
}
