// Every layout a base model comes in loads to the same parameters as the diffusers folder it
// was made from (scripts/fixtures/single_file.py writes the variants, checked there against
// diffusers' own converter).
import Foundation
import ModelIO
import Testing
import TensorEngine
@testable import Diffusion

@Suite struct CheckpointLoadingTests {
    /// Same names and, after rounding the folder's float32 values to `dtype`, the same values.
    func expectSameParameters(_ loaded: StableDiffusionCheckpoint, as reference: StableDiffusionCheckpoint,
                              storedAs dtype: SafeTensorsDType, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for c in CheckpointComponent.allCases {
            let a = loaded.weights(c), b = reference.weights(c)
            let missing = Set(b.tensorNames).subtracting(a.tensorNames).sorted()
            let extra = Set(a.tensorNames).subtracting(b.tensorNames).sorted()
            #expect(missing.isEmpty && extra.isEmpty, "\(c): missing \(missing.prefix(5)), extra \(extra.prefix(5))", sourceLocation: sourceLocation)
            var mismatches: [String] = []
            for name in b.tensorNames.sorted() where a.contains(name) {
                let x = try #require(try a.tensor(named: name)), y = try #require(try b.tensor(named: name))
                if x.shape != y.shape || zip(x.scalars, y.scalars).contains(where: { $0 != roundedLikeStorage($1, dtype) }) {
                    mismatches.append("\(name) \(x.shape) vs \(y.shape)")
                }
            }
            #expect(mismatches.isEmpty, "\(c): \(mismatches.count) tensors differ, e.g. \(mismatches.prefix(3))", sourceLocation: sourceLocation)
        }
    }

    @Test func diffusersFolderOpensWithItsConfigs() throws {
        let ckpt = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd2-tiny"))
        #expect(ckpt.format == .diffusersFolder)
        #expect(ckpt.unetConfig == (try UNetConfig(contentsOf: CheckpointFixtures.model("sd2-tiny/unet/config.json"))))
        #expect(ckpt.schedulerConfig.predictionType == .vPrediction)
        #expect(ckpt.tokenizerFolder == CheckpointFixtures.model("sd2-tiny/tokenizer"))
        // transformers 5 stores the text encoder without `text_model.`; both spellings resolve.
        let token = "embeddings.token_embedding.weight"
        #expect(ckpt.textEncoderWeights.contains(token))
        #expect(!ckpt.textEncoderWeights.contains("text_model." + token))
        #expect(try ckpt.textEncoderWeights.tensor(named: "text_model." + token)?.shape == [1000, 32])
        #expect(try ckpt.unetWeights.tensor(named: "no.such.tensor") == nil)
    }

    /// transformers 5 saves a tokenizer as tokenizer.json alone: such a folder still has a tokenizer.
    @Test func diffusersFolderWithOnlyTokenizerJSONHasATokenizer() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-sd2-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: CheckpointFixtures.model("sd2-tiny"), toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        for file in ["vocab.json", "merges.txt"] { try FileManager.default.removeItem(atPath: copy + "/tokenizer/" + file) }
        let folder = try #require(try StableDiffusionCheckpoint.open(copy).tokenizerFolder)
        let original = try CLIPTokenizer(folder: URL(fileURLWithPath: CheckpointFixtures.model("sd2-tiny/tokenizer")))
        #expect(try CLIPTokenizer(folder: URL(fileURLWithPath: folder)).encode("a photo of a sks dog") == original.encode("a photo of a sks dog"))
    }

    @Test func float32TensorsAreMappedNotCopied() throws {
        let ckpt = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd1-tiny"))
        let t = try #require(try ckpt.unetWeights.tensor(named: "conv_in.weight"))
        #expect(t.storage.isWritable == false)      // a view of the read-only mapping
        #expect(t.storage.owner is SafeTensorsFile)
        let half = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd2_variants"))
        #expect(try half.unetWeights.tensor(named: "conv_in.weight")?.storage.isWritable == true)   // widened copy
    }

    @Test func sd1SingleFileLoadsTheFolderParameters() throws {
        let single = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd1_fp16.safetensors"))
        #expect(single.format == .singleFile(family: .sd1))
        try expectSameParameters(single, as: StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd1-tiny")), storedAs: .f16)
    }

    @Test func sd2SingleFileLoadsTheFolderParameters() throws {
        let single = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd2_bf16.safetensors"))
        #expect(single.format == .singleFile(family: .sd2))
        try expectSameParameters(single, as: StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd2-tiny")), storedAs: .bf16)
    }

    /// Sharded fp16 UNet, fp16 VAE with diffusers < 0.14 attention names, bf16 text encoder
    /// with the `text_model.` prefix.
    @Test func diffusersFolderVariantsLoadTheSameParameters() throws {
        let variants = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd2_variants"), options: .init(variant: "fp16"))
        let reference = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd2-tiny"))
        #expect(variants.unetWeights.origin(of: "conv_in.weight")?.path.contains("-of-0000") == true)
        // The text encoder is bfloat16, the rest float16: compare each with its own rounding.
        let te = variants.textEncoderWeights, ref = reference.textEncoderWeights
        #expect(Set(te.tensorNames) == Set(ref.tensorNames))
        for name in ref.tensorNames {
            let x = try #require(try te.tensor(named: name)), y = try #require(try ref.tensor(named: name))
            #expect(x.scalars == y.scalars.map { roundedLikeStorage($0, .bf16) }, "\(name)")
        }
        for c in [CheckpointComponent.unet, .vae] {
            let a = variants.weights(c), b = reference.weights(c)
            #expect(Set(a.tensorNames) == Set(b.tensorNames), "\(c)")
            for name in b.tensorNames {
                let x = try #require(try a.tensor(named: name)), y = try #require(try b.tensor(named: name))
                #expect(x.shape == y.shape && x.scalars == y.scalars.map { roundedLikeStorage($0, .f16) }, "\(name)")
            }
        }
        // Without the option, a folder that only has one variant uses it.
        let implicit = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd2_variants"))
        #expect(implicit.vaeWeights.contains("decoder.mid_block.attentions.0.to_q.weight"))
    }

    @Test func singleFileConfigsAreInferredFromShapes() throws {
        let sd1 = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd1_fp16.safetensors"))
        let sd1Folder = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd1-tiny"))
        #expect(sd1.unetConfig == sd1Folder.unetConfig)
        #expect(sd1.vaeConfig == sd1Folder.vaeConfig)
        #expect(sd1.textEncoderConfig == sd1Folder.textEncoderConfig)
        #expect(sd1.schedulerConfig.predictionType == .epsilon)

        let sd2 = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd2_bf16.safetensors"))
        let sd2Folder = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd2-tiny"))
        #expect(sd2.unetConfig == sd2Folder.unetConfig)
        #expect(sd2.vaeConfig == sd2Folder.vaeConfig)
        // 4 OpenCLIP resblocks in the file; SD 2.x runs 3 (the penultimate layer's output).
        #expect(sd2.textEncoderConfig == sd2Folder.textEncoderConfig)
        #expect(sd2.textEncoderConfig.numHiddenLayers == 3 && sd2.textEncoderConfig.hiddenAct == .gelu)
        // v-prediction and upcast come from the sidecar sd2_bf16.json, not from the weights.
        #expect(sd2.schedulerConfig.predictionType == .vPrediction)
        #expect(sd2.unetConfig.upcastAttention)
        #expect(sd2.schedulerConfig.betaSchedule == .scaledLinear && sd2.schedulerConfig.betaStart == 0.00085)
    }

    /// Without a sidecar only the weights speak: the family's rules fill in the rest.
    @Test func inferenceRulesWithoutSidecar() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // SD 1.x rule: 8 heads per block (the tiny model has them too); norm groups 32 does not
        // divide 16 channels, so that one key is given.
        let sd1 = dir + "/sd1.safetensors"
        try FileManager.default.createSymbolicLink(atPath: sd1, withDestinationPath: CheckpointFixtures.checkpoint("sd1_fp16.safetensors"))
        try #"{"unet": {"norm_num_groups": 8}, "vae": {"norm_num_groups": 8}, "scheduler": {"timestep_spacing": "trailing"}}"#
            .write(toFile: dir + "/sd1.json", atomically: true, encoding: .utf8)
        let c1 = try StableDiffusionCheckpoint.open(sd1)
        #expect(c1.unetConfig.attentionHeadDim == [8, 8])
        #expect(c1.unetConfig.crossAttentionDim == 32 && !c1.unetConfig.useLinearProjection)
        #expect(c1.unetConfig.layersPerBlock == [2, 2])
        #expect(c1.textEncoderConfig.numAttentionHeads == 1)   // 32 wide / 64-wide heads, at least one
        #expect(c1.textEncoderConfig.hiddenAct == .quickGELU)
        #expect(c1.schedulerConfig.predictionType == .epsilon)
        // The sidecar's scheduler keys change SD's schedule, nothing else.
        #expect(c1.schedulerConfig.timestepSpacing == .trailing && c1.schedulerConfig.betaSchedule == .scaledLinear && c1.schedulerConfig.stepsOffset == 1)

        // SD 2.x rule: 64-wide heads, which 16 channels cannot have: the error says what to add.
        let sd2 = dir + "/sd2.safetensors"
        try FileManager.default.createSymbolicLink(atPath: sd2, withDestinationPath: CheckpointFixtures.checkpoint("sd2_bf16.safetensors"))
        let text = errorText { _ = try StableDiffusionCheckpoint.open(sd2) }
        #expect(text?.contains("attention_head_dim") == true && text?.contains("sd2.json") == true)
        // An LDM .yaml beside the file says v-prediction; the .json adds the tiny model's sizes.
        try "model:\n  params:\n    parameterization: \"v\"  # 768-v\n".write(toFile: dir + "/sd2.yaml", atomically: true, encoding: .utf8)
        try #"{"unet": {"attention_head_dim": [2, 4, 4], "norm_num_groups": 8}, "vae": {"norm_num_groups": 4}}"#
            .write(toFile: dir + "/sd2.json", atomically: true, encoding: .utf8)
        let c2 = try StableDiffusionCheckpoint.open(sd2)
        #expect(c2.schedulerConfig.predictionType == .vPrediction)
        #expect(c2.unetConfig.useLinearProjection && c2.unetConfig.transformerLayersPerBlock == [1, 2, 1])
        #expect(c2.unetConfig.upcastAttention == false)
        // The caller's option wins over both sidecars.
        let eps = try StableDiffusionCheckpoint.open(sd2, options: .init(predictionType: .epsilon, upcastAttention: true))
        #expect(eps.schedulerConfig.predictionType == .epsilon && eps.unetConfig.upcastAttention)
    }
}
