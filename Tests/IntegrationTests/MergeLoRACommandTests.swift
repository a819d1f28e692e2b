import Foundation
import ModelIO
import Testing

/// `dropbooth merge-lora` as a user runs it: two LoRAs of different ranks, in the two
/// conventions, merged into one whose ΔW is the weighted sum of theirs for every layer.
@Suite struct MergeLoRACommandTests {
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models/sd1-tiny").path

    // Layers of the tiny SD 1.x model: two UNet projections and a text-encoder one.
    static let toQ = LoRAModule(.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")
    static let toK = LoRAModule(.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k")
    static let textQ = LoRAModule(.textEncoder, "text_model.encoder.layers.0.self_attn.q_proj")
    static let features = [toQ: 16, toK: 16, textQ: 32]

    let dir = NSTemporaryDirectory() + "merge-lora-" + UUID().uuidString

    static func pair(rank: Int, features: Int, alpha: Float, seed: Int) -> LoRAPair {
        func values(_ n: Int, _ salt: Int) -> [Float] { (0..<n).map { Float(sin(Double($0 * 7 + salt * 131 + seed * 17))) * 0.1 } }
        return LoRAPair(downShape: [rank, features], down: values(rank * features, 1),
                        upShape: [features, rank], up: values(features * rank, 2), alpha: alpha)
    }

    /// A: diffusers, rank 2, on to_q and to_k. B: kohya, rank 3 with alpha 1.5, on to_q and the
    /// text encoder's q_proj.
    func writeInputs() throws -> (a: LoRAAdapter, b: LoRAAdapter) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let a = LoRAAdapter(pairs: [Self.toQ: Self.pair(rank: 2, features: 16, alpha: 2, seed: 1),
                                    Self.toK: Self.pair(rank: 2, features: 16, alpha: 2, seed: 2)],
                            metadata: ["dropbooth.base_model": "sd15"])
        let b = LoRAAdapter(pairs: [Self.toQ: Self.pair(rank: 3, features: 16, alpha: 1.5, seed: 3),
                                    Self.textQ: Self.pair(rank: 3, features: 32, alpha: 1.5, seed: 4)],
                            metadata: ["dropbooth.base_model": "sd15"])
        try DiffusersLoRAFormat.write(a, to: dir + "/subject.safetensors")
        try KohyaLoRAFormat.write(b, to: dir + "/style.safetensors")
        return (a, b)
    }

    func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        try ServiceHarness.run(["merge-lora"] + arguments)
    }

    /// The merged ΔW of every layer is 0.8·ΔW_A + 0.5·ΔW_B (zero where an input lacks the layer).
    func expectWeightedSum(_ merged: LoRAAdapter, _ a: LoRAAdapter, _ b: LoRAAdapter) {
        #expect(Set(merged.pairs.keys) == [Self.toQ, Self.toK, Self.textQ])
        #expect(merged.pairs[Self.toQ]?.rank == 5)        // 2 + 3: concatenated, not averaged
        for (module, features) in Self.features {
            var expected = [Float](repeating: 0, count: features * features)
            for (adapter, weight) in [(a, Float(0.8)), (b, 0.5)] {
                if let delta = adapter.delta(for: module, multiplier: weight) { expected = zip(expected, delta.values).map(+) }
            }
            let got = merged.delta(for: module)?.values ?? []
            #expect(got.count == expected.count, "\(module)")
            let error = zip(got, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(error < 1e-6, "\(module): largest difference \(error)")
        }
    }

    @Test func mergesIntoKohyaWithoutTheModel() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (a, b) = try writeInputs()
        let result = try run([dir + "/subject.safetensors:0.8", dir + "/style.safetensors:0.5", "--out", dir + "/both.safetensors", "--format", "kohya"])
        #expect(result.status == 0, "\(result.stderr)")
        let reader = KohyaLoRAFormat(unetModules: [Self.toQ.path, Self.toK.path], textEncoderModules: [Self.textQ.path])
        let merged = try reader.read(path: dir + "/both.safetensors")
        expectWeightedSum(merged, a, b)

        let metadata = try SafeTensorsFile(path: dir + "/both.safetensors").metadata
        #expect(metadata["dropbooth.base_model"] == "sd15")
        #expect(metadata["dropbooth.method"] == "lora_merge")
        let sources = try #require(try JSONSerialization.jsonObject(with: Data((metadata["dropbooth.merge"] ?? "").utf8)) as? [[String: Any]])
        #expect(sources.map { $0["file"] as? String } == ["subject.safetensors", "style.safetensors"])
        #expect(sources.map { ($0["weight"] as? NSNumber)?.doubleValue } == [0.8, 0.5])
        #expect(sources.map { ($0["rank"] as? NSNumber)?.intValue } == [2, 3])
    }

    @Test func mergesIntoDiffusersWithTheModelsLayerNames() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (a, b) = try writeInputs()
        // Without the model, the kohya-only text-encoder layer has no dotted name: refused, saying why.
        let refused = try run([dir + "/subject.safetensors:0.8", dir + "/style.safetensors:0.5", "--out", dir + "/both.safetensors"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("lora_te_text_model_encoder_layers_0_self_attn_q_proj") && refused.stderr.contains("--model"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/both.safetensors"))

        let result = try run([dir + "/subject.safetensors:0.8", dir + "/style.safetensors:0.5", "--out", dir + "/both.safetensors",
                              "--format", "diffusers", "--model", Self.model])
        #expect(result.status == 0, "\(result.stderr)")
        expectWeightedSum(try DiffusersLoRAFormat.read(path: dir + "/both.safetensors"), a, b)
    }

    @Test func badArgumentsAreNamed() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try writeInputs()
        let missing = try run([dir + "/nope.safetensors:0.5", "--out", dir + "/x.safetensors"])
        #expect(missing.status != 0 && missing.stderr.contains("nope.safetensors"))
        let format = try run([dir + "/subject.safetensors", "--out", dir + "/x.safetensors", "--format", "a1111"])
        #expect(format.status != 0 && format.stderr.contains("--format a1111"))
    }
}
