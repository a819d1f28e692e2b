import Foundation
import Testing
import ModelIO
import TestSupport

@Suite struct AdapterLoRATests {
    let deltaModules = [
        LoRAModule(.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k"),
        LoRAModule(.unet, "up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v"),
        LoRAModule(.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0"),
        LoRAModule(.textEncoder, "text_model.encoder.layers.1.self_attn.out_proj"),
    ]

    func diffusersFixture() throws -> LoRAAdapter {
        try DiffusersLoRAFormat.read(path: AdapterFixture.path("lora_diffusers.safetensors"))
    }

    func kohyaFixture() throws -> LoRAAdapter {
        let modules = try AdapterFixture.modules()
        return try KohyaLoRAFormat(unetModules: modules.unet, textEncoderModules: modules.textEncoder)
            .read(path: AdapterFixture.path("lora_kohya.safetensors"))
    }

    @Test func readsDiffusersFileWithRanksAndAlphasFromItsConfig() throws {
        let adapter = try diffusersFixture()
        let modules = try AdapterFixture.modules()
        #expect(adapter.pairs.count == modules.ranks.count)
        for (name, rank) in modules.ranks {
            let module = name.hasPrefix("unet.") ? LoRAModule(.unet, String(name.dropFirst(5)))
                                                  : LoRAModule(.textEncoder, String(name.dropFirst("text_encoder.".count)))
            let pair = try #require(adapter.pairs[module], "\(module) missing")
            #expect(pair.rank == rank, "\(module)")
            #expect(pair.alpha == modules.alphas[name], "\(module)")
        }
        // The text encoder's keys lack `text_model.` (transformers 5): read as the rooted path.
        #expect(adapter.pairs[LoRAModule(.textEncoder, "text_model.encoder.layers.0.self_attn.q_proj")] != nil)
    }

    @Test func deltaMatchesTheWeightDiffusersFuses() throws {
        let adapter = try diffusersFixture()
        let expected = try SafeTensorsFile(path: AdapterFixture.path("lora_expected.safetensors"))
        for module in deltaModules {
            let key = "delta.\(module.component.rawValue).\(module.path)"
            let delta = try #require(adapter.delta(for: module))
            #expect(delta.shape == (try expected.entry(key).shape))
            expectClose(delta.values, try expected.floats(key), rtol: 1e-4, atol: 1e-6, key)
        }
        #expect(adapter.delta(for: LoRAModule(.unet, "conv_in")) == nil)
    }

    @Test func kohyaFileReadsAsTheSameAdapter() throws {
        let kohya = try kohyaFixture(), diffusers = try diffusersFixture()
        #expect(kohya.pairs == diffusers.pairs)
        #expect(kohya.metadata[LoRAMetadata.networkDim] == "4")
    }

    @Test func diffusersWriterMatchesDiffusersStructureAndRoundTrips() throws {
        let adapter = try diffusersFixture()
        let path = AdapterFixture.temporaryPath("lora.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DiffusersLoRAFormat.write(adapter, to: path)
        let ours = try SafeTensorsFile(path: path)
        let theirs = try SafeTensorsFile(path: AdapterFixture.path("lora_diffusers.safetensors"))
        // Same keys, shapes and dtypes, except that ours root text-encoder modules at `text_model.`
        // (the form transformers 4 needs; the fixture script checks diffusers 0.42 loads it too).
        let theirsRooted = Dictionary(uniqueKeysWithValues: AdapterFixture.structure(theirs).map { key, value in
            (key.hasPrefix("text_encoder.encoder.") ? "text_encoder.text_model." + key.dropFirst("text_encoder.".count) : key, value)
        })
        #expect(AdapterFixture.structure(ours) == theirsRooted)
        #expect(ours.metadata["format"] == "pt")
        #expect(try DiffusersLoRAFormat.read(path: path).pairs == adapter.pairs)
    }

    @Test func diffusersConfigCarriesPerModuleAlphasAndRanks() throws {
        var adapter = AdapterFixture.handMade()
        // Three distinct alphas in the UNet and a text encoder: all must survive the config.
        adapter.pairs[LoRAModule(.unet, "mid_block.attentions.0.proj_in")] =
            LoRAPair(downShape: [3, 2], down: [1, 2, 3, 4, 5, 6], upShape: [1, 3], up: [1, -1, 0.5], alpha: 0.75)
        let path = AdapterFixture.temporaryPath("lora.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DiffusersLoRAFormat.write(adapter, to: path)
        let back = try DiffusersLoRAFormat.read(path: path)
        #expect(back.pairs == adapter.pairs)
        let config = try #require(try SafeTensorsFile(path: path).metadata[DiffusersLoRAFormat.metadataKey])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        #expect((json["text_encoder.target_modules"] as? [String]) == ["encoder.layers.0.self_attn.q_proj"])
        #expect((json["unet.peft_type"] as? String) == "LORA")
    }

    @Test func kohyaWriterMatchesTheFixtureStructure() throws {
        let adapter = try diffusersFixture()
        let path = AdapterFixture.temporaryPath("lora_kohya.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KohyaLoRAFormat.write(adapter, to: path)
        let ours = try SafeTensorsFile(path: path)
        let theirs = try SafeTensorsFile(path: AdapterFixture.path("lora_kohya.safetensors"))
        #expect(AdapterFixture.structure(ours) == AdapterFixture.structure(theirs))
        for key in theirs.names { #expect(try ours.floats(key) == theirs.floats(key), "\(key)") }
        #expect(ours.metadata[LoRAMetadata.networkModule] == "networks.lora")
        #expect(ours.metadata[LoRAMetadata.networkDim] == "4")
        #expect(ours.metadata[LoRAMetadata.networkAlpha] == "8.0")
        #expect(ours.metadata[LoRAMetadata.baseModelVersion] == "sd_v1")
        // The diffusers config the source file carried is not copied (diffusers refuses both at once).
        #expect(adapter.metadata[DiffusersLoRAFormat.metadataKey] != nil)
        #expect(ours.metadata[DiffusersLoRAFormat.metadataKey] == nil)
    }

    @Test func kohyaRoundTripsConvolutionsAndCarriesDropboothMetadata() throws {
        let info = DropboothAdapterInfo(baseModel: "sd15", method: "lora", rank: 2, alpha: 1, steps: 400,
                                        recipeFingerprint: "sha256:abc", version: "0.1")
        var adapter = AdapterFixture.handMade()
        adapter.metadata = info.metadata
        let path = AdapterFixture.temporaryPath("lora_kohya.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KohyaLoRAFormat.write(adapter, to: path, dtype: .f32)
        let back = try LoRAAdapter.read(path: path, unetModules: ["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
                                                                  "down_blocks.0.resnets.0.conv1"],
                                        textEncoderModules: ["encoder.layers.0.self_attn.q_proj"])
        #expect(back.pairs == adapter.pairs)
        #expect(DropboothAdapterInfo(metadata: back.metadata) == info)
        #expect(back.metadata[LoRAMetadata.steps] == "400")
        #expect(back.metadata[LoRAMetadata.networkDim] == "2", "the caller's rank wins over the derived one")
    }

    @Test func mergingConcatenatesRanksExactly() throws {
        let a = AdapterFixture.handMade()
        var b = AdapterFixture.handMade()
        for (module, var pair) in b.pairs {
            pair.up = pair.up.map { -0.5 * $0 + 0.125 }; pair.alpha *= 3
            b.pairs[module] = pair
        }
        b.pairs.removeValue(forKey: LoRAModule(.textEncoder, "text_model.encoder.layers.0.self_attn.q_proj"))
        let merged = try LoRAAdapter.merging([(a, 0.7), (b, -1.5)])
        for module in a.modules {
            let m = try #require(merged.delta(for: module))
            let da = a.delta(for: module, multiplier: 0.7)!
            var expected = da.values
            if let db = b.delta(for: module, multiplier: -1.5) {
                expected = zip(da.values, db.values).map { $0 + $1 }
                #expect(merged.pairs[module]!.rank == 2 * a.pairs[module]!.rank)
            }
            #expect(m.shape == da.shape)
            expectClose(m.values, expected, rtol: 1e-5, atol: 1e-6, "\(module)")
        }
        var other = AdapterFixture.handMade()
        let q = LoRAModule(.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")
        other.pairs[q] = LoRAPair(downShape: [1, 5], down: [1, 1, 1, 1, 1], upShape: [4, 1], up: [1, 1, 1, 1], alpha: 1)
        #expect(throws: AdapterError.self) { try LoRAAdapter.merging([(a, 1), (other, 1)]) }
    }

    @Test func deltaOfAConvolutionIsShapedLikeItsKernel() throws {
        let pair = AdapterFixture.handMade().pairs[LoRAModule(.unet, "down_blocks.0.resnets.0.conv1")]!
        let delta = pair.delta()
        #expect(delta.shape == [3, 2, 3, 3])
        // rank 1: ΔW[o, c] = (alpha / 1) · up[o] · down[c]
        #expect(delta.values[1 * 18 + 5] == 4 * pair.up[1] * pair.down[5])
    }

    // MARK: Older diffusers forms and foreign files

    func writeRaw(_ tensors: [(String, [Int])], metadata: [String: String] = [:]) throws -> String {
        var writer = SafeTensorsWriter(metadata: metadata)
        for (name, shape) in tensors {
            let n = shape.reduce(1, *)
            writer.add(name, shape: shape, values: (0..<n).map { Float($0 % 7) - 3 })
        }
        let path = AdapterFixture.temporaryPath("raw.safetensors")
        try writer.write(to: path)
        return path
    }

    @Test func acceptsOlderDiffusersForms() throws {
        let path = try writeRaw([
            ("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight", [2, 8]),
            ("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight", [8, 2]),
            ("mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight", [2, 4]),
            ("mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.up.weight", [8, 2]),
            ("unet.up_blocks.1.attentions.0.proj_in.lora.down.weight", [2, 8]),
            ("unet.up_blocks.1.attentions.0.proj_in.lora.up.weight", [8, 2]),
            ("unet.up_blocks.1.attentions.0.proj_in.alpha", []),
            ("text_encoder.text_model.encoder.layers.0.self_attn.to_v_lora.down.weight", [2, 4]),
            ("text_encoder.text_model.encoder.layers.0.self_attn.to_v_lora.up.weight", [4, 2]),
            ("text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_linear_layer.down.weight", [2, 4]),
            ("text_encoder.text_model.encoder.layers.1.mlp.fc1.lora_linear_layer.up.weight", [6, 2]),
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let adapter = try LoRAAdapter.read(path: path)
        #expect(Set(adapter.modules.map(\.description)) == [
            "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0",
            "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k",
            "unet.up_blocks.1.attentions.0.proj_in",
            "text_encoder.text_model.encoder.layers.0.self_attn.v_proj",
            "text_encoder.text_model.encoder.layers.1.mlp.fc1",
        ])
        // The scalar alpha written was value 0 % 7 - 3 = -3; pairs without one get alpha = rank.
        #expect(adapter.pairs[LoRAModule(.unet, "up_blocks.1.attentions.0.proj_in")]?.alpha == -3)
        #expect(adapter.pairs[LoRAModule(.unet, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k")]?.alpha == 2)
    }

    @Test func foreignFilesNameTheFirstUnrecognisedKey() throws {
        let checkpoint = try writeRaw([("model.diffusion_model.input_blocks.0.0.weight", [2, 2])])
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        #expect(throws: AdapterError.unrecognisedKey(path: checkpoint, key: "model.diffusion_model.input_blocks.0.0.weight",
                                                     expected: "'unet.<module>.lora_A.weight' / '.lora_B.weight' or 'text_encoder.<module>…' (diffusers/PEFT LoRA)")) {
            try LoRAAdapter.read(path: checkpoint)
        }
        // A LoRA with one stray tensor is refused, not read without it.
        let stray = try writeRaw([("unet.conv_in.lora_A.weight", [1, 4]), ("unet.conv_in.lora_B.weight", [4, 1]),
                                  ("unet.conv_in.lora_A.bias", [1])])
        defer { try? FileManager.default.removeItem(atPath: stray) }
        do { _ = try LoRAAdapter.read(path: stray); Issue.record("read a file with a stray tensor") } catch let error as AdapterError {
            #expect(error.description.contains("'unet.conv_in.lora_A.bias'"))
        }
        let unpaired = try writeRaw([("unet.conv_in.lora_A.weight", [1, 4])])
        defer { try? FileManager.default.removeItem(atPath: unpaired) }
        #expect(throws: AdapterError.self) { try LoRAAdapter.read(path: unpaired) }
        let dora = try writeRaw([("unet.conv_in.lora_A.weight", [1, 4]), ("unet.conv_in.lora_B.weight", [4, 1]),
                                 ("unet.conv_in.lora_magnitude_vector", [4])])
        defer { try? FileManager.default.removeItem(atPath: dora) }
        do { _ = try LoRAAdapter.read(path: dora); Issue.record("read a DoRA file") } catch let error as AdapterError {
            #expect(error.description.contains("DoRA"))
        }
        let sdxl = try writeRaw([("text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight", [1, 4])])
        defer { try? FileManager.default.removeItem(atPath: sdxl) }
        do { _ = try LoRAAdapter.read(path: sdxl); Issue.record("read an SDXL file") } catch let error as AdapterError {
            #expect(error.description.contains("SDXL"))
        }
    }

    @Test func kohyaReaderRefusesWhatItCannotMap() throws {
        let modules = try AdapterFixture.modules()
        let format = KohyaLoRAFormat(unetModules: modules.unet, textEncoderModules: modules.textEncoder)
        let cases: [(String, String)] = [
            ("lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_down.weight", "LDM layout"),
            ("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", "SDXL"),
            ("lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight", "no module path maps to 'lora_unet_down_blocks_9_attentions_0_proj_in'"),
            ("lora_unet_conv_in.hada_w1_a", "LyCORIS"),
            ("lora_unet_conv_in.lora_down.bias", "'lora_unet_conv_in.lora_down.weight', '.lora_up.weight' or '.alpha'"),
        ]
        for (key, message) in cases {
            let path = try writeRaw([(key, [1, 4])])
            defer { try? FileManager.default.removeItem(atPath: path) }
            do { _ = try format.read(path: path); Issue.record("read \(key)") } catch let error as AdapterError {
                #expect(error.description.contains(message), "\(error)")
                #expect(error.description.contains(key), "\(error)")
            }
        }
        let path = try writeRaw([("lora_unet_conv_in.lora_down.weight", [1, 4])])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: AdapterError.self) { try LoRAAdapter.read(path: path) }   // no module list given
    }

    @Test func kohyaNamesThatTwoModulesShareAreRefused() throws {
        // "a.b_c" and "a_b.c" both become "lora_unet_a_b_c".
        let format = KohyaLoRAFormat(unetModules: ["a.b_c", "a_b.c"], textEncoderModules: [])
        let path = try writeRaw([("lora_unet_a_b_c.lora_down.weight", [1, 2]), ("lora_unet_a_b_c.lora_up.weight", [2, 1])])
        defer { try? FileManager.default.removeItem(atPath: path) }
        do { _ = try format.read(path: path); Issue.record("mapped an ambiguous name") } catch let error as AdapterError {
            #expect(error.description.contains("could be any of"))
        }
    }

    /// With DROPBOOTH_ADAPTER_EXPORT=<dir>, writes the fixture adapter as dropbooth writes it
    /// (both conventions) for scripts/check_outputs_in_diffusers.py to load into diffusers.
    @Test func exportsFilesForTheDiffusersCheck() throws {
        let adapter = try diffusersFixture()
        let directory = try AdapterFixture.exportDirectory()
        let diffusersPath = directory + "/dropbooth_lora_diffusers.safetensors"
        let kohyaPath = directory + "/dropbooth_lora_kohya.safetensors"
        try DiffusersLoRAFormat.write(adapter, to: diffusersPath)
        try KohyaLoRAFormat.write(adapter, to: kohyaPath)
        let modules = try AdapterFixture.modules()
        #expect(try LoRAAdapter.read(path: kohyaPath, unetModules: modules.unet, textEncoderModules: modules.textEncoder).pairs == adapter.pairs)
        #expect(try LoRAAdapter.read(path: diffusersPath).pairs == adapter.pairs)
        // Per-module alphas within the UNet, which only the config's alpha_pattern can carry.
        var patterned = adapter
        for (module, var pair) in adapter.pairs where module.path.hasSuffix(".to_v") {
            pair.alpha = 3; patterned.pairs[module] = pair
        }
        let patternedPath = directory + "/dropbooth_lora_alpha_pattern.safetensors"
        try DiffusersLoRAFormat.write(patterned, to: patternedPath)
        #expect(try LoRAAdapter.read(path: patternedPath).pairs == patterned.pairs)
        if ProcessInfo.processInfo.environment["DROPBOOTH_ADAPTER_EXPORT"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
