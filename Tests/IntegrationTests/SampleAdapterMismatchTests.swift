import Foundation
import ModelIO
import Testing

/// `dropbooth sample` with an adapter made for another model: the command stops before drawing
/// anything (with --compare-base the base column alone takes minutes on a real model), and the
/// error names the file and the layer or token that does not fit.
@Suite struct SampleAdapterMismatchTests {
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models/sd1-tiny").path
    // The tiny SD 1.x model's first attention query is linear 16 → 16; its text encoder is 32 wide.
    static let toQ = LoRAModule(.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")

    let dir = NSTemporaryDirectory() + "sample-mismatch-" + UUID().uuidString
    var out: String { dir + "/out" }

    /// A rank-2 LoRA on to_q for a model whose to_q is 24 → 24.
    func writeWrongLoRA() throws -> String {
        let path = dir + "/wider.safetensors"
        let pair = LoRAPair(downShape: [2, 24], down: .init(repeating: 0.01, count: 48),
                            upShape: [24, 2], up: .init(repeating: 0.01, count: 48), alpha: 2)
        try DiffusersLoRAFormat.write(LoRAAdapter(pairs: [Self.toQ: pair]), to: path)
        return path
    }

    func sample(_ extra: [String]) throws -> (status: Int32, stderr: String) {
        try ServiceHarness.run(["sample", "--model", Self.model, "--prompt", "a photo", "--seeds", "1,2",
                                "--steps", "2", "--width", "32", "--height", "32", "--out", out] + extra)
    }

    var imagesWritten: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }
    }

    @Test func aLoRAOfTheWrongShapeFailsBeforeTheBaseImages() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lora = try writeWrongLoRA()
        for extra in [["--compare-base"], []] {
            try? FileManager.default.removeItem(atPath: out)
            let result = try sample(["--lora", lora + ":0.8"] + extra)
            #expect(result.status == 1, "\(extra): \(result.stderr)")
            #expect(result.stderr.contains(lora), "the error names the file: \(result.stderr)")
            #expect(result.stderr.contains("\"\(Self.toQ.path)\""), "the error names the layer: \(result.stderr)")
            #expect(result.stderr.contains("[2, 24]"), "the error gives the LoRA's shapes: \(result.stderr)")
            #expect(imagesWritten.isEmpty, "\(extra): images written before the error: \(imagesWritten)")
        }
    }

    @Test func anEmbeddingOfTheWrongWidthFailsBeforeTheBaseImages() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/wide-token.safetensors"
        // 48 wide for a 32-wide text encoder.
        try TextualInversionEmbedding(token: "<wide>", vectors: .init(repeating: 0.1, count: 48), count: 1, dimension: 48)
            .writeDiffusers(to: path)
        let result = try sample(["--embedding", path, "--compare-base"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains(path) && result.stderr.contains("width 48"), "\(result.stderr)")
        #expect(imagesWritten.isEmpty, "images written before the error: \(imagesWritten)")
    }
}
