import Foundation
import Testing
import ModelIO
import TestSupport

/// The adapter files written and checked by diffusers in scripts/fixtures/adapters.py, under
/// Tests/Fixtures/adapters, and helpers for the adapter tests.
enum AdapterFixture {
    static let root = TestFixtures.url("adapters")

    static func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// modules.json: the tiny model's module paths and the adapter's rank/alpha per module.
    struct Modules {
        var unet: [String]
        var textEncoder: [String]
        var ranks: [String: Int]
        var alphas: [String: Float]
    }

    static func modules() throws -> Modules {
        let data = try Data(contentsOf: root.appendingPathComponent("modules.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return Modules(unet: try #require(json["unet"] as? [String]),
                       textEncoder: try #require(json["text_encoder"] as? [String]),
                       ranks: try #require(json["ranks"] as? [String: Int]),
                       alphas: try #require(json["alphas"] as? [String: Any]).mapValues { ($0 as! NSNumber).floatValue })
    }

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-adapter-\(UUID().uuidString)-\(name)").path
    }

    /// Keys, shapes and dtypes of a file: its structure, without the values.
    static func structure(_ file: SafeTensorsFile) -> [String: String] {
        file.entries.mapValues { "\($0.dtype.rawValue)\($0.shape)" }
    }

    /// A small adapter with known numbers: one linear and one conv module in the UNet, one in
    /// the text encoder, with different ranks and alphas.
    static func handMade() -> LoRAAdapter {
        func ramp(_ n: Int, _ start: Float) -> [Float] { (0..<n).map { start + 0.25 * Float($0) - Float(n) / 16 } }
        return LoRAAdapter(pairs: [
            LoRAModule(.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"):
                LoRAPair(downShape: [2, 3], down: ramp(6, 0.5), upShape: [4, 2], up: ramp(8, -1), alpha: 1),
            LoRAModule(.unet, "down_blocks.0.resnets.0.conv1"):
                LoRAPair(downShape: [1, 2, 3, 3], down: ramp(18, 0.1), upShape: [3, 1, 1, 1], up: ramp(3, 2), alpha: 4),
            LoRAModule(.textEncoder, "text_model.encoder.layers.0.self_attn.q_proj"):
                LoRAPair(downShape: [2, 4], down: ramp(8, 0.3), upShape: [4, 2], up: ramp(8, 0.7), alpha: 2),
        ])
    }
}

extension AdapterFixture {
    /// $DROPBOOTH_ADAPTER_EXPORT when set (files are kept there), else a fresh temporary folder.
    static func exportDirectory() throws -> String {
        if let directory = ProcessInfo.processInfo.environment["DROPBOOTH_ADAPTER_EXPORT"] { return directory }
        let directory = temporaryPath("export")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}
