import Foundation
import Testing
import Imaging
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// The CLIP scoring model against transformers' CLIPModel and CLIPImageProcessor (Pillow
/// backend) on the fixtures of scripts/fixtures/clip_scoring.py (Tests/Fixtures/clip-scoring/).
///
/// Tolerances: the 224×224 preprocessed images equal Pillow's byte for byte (0 levels, i.e.
/// pixel values exact to float32 rounding, far inside 1e-3); pixel values at the tiny model's
/// 32×32 within 1e-6 (float32 arithmetic as NumPy does it; measured: equal); embeddings within
/// 1e-5 absolute (unit vectors; float32 sums in another order; measured 1.5e-7 at most).
@Suite struct CLIPScoringTests {
    static let root = TestFixtures.url("clip-scoring")
    static let modelFolder = root.appendingPathComponent("model")
    static let imageNames = ["wide", "tall", "small", "tiny", "exact"]
    static let prompts = [
        "a photo of sks dog",
        "A red cube on a table, studio lighting!",
        "x",
        String(repeating: "a very long prompt ", count: 12),
    ]

    static func reference() throws -> SafeTensorsFile {
        try SafeTensorsFile(path: root.appendingPathComponent("reference.safetensors").path)
    }

    static func png(_ folder: String, _ name: String) throws -> RGBImage {
        let url = root.appendingPathComponent(folder).appendingPathComponent(name + ".png")
        return try ImageDecoder.decode([UInt8](Data(contentsOf: url))).image
    }

    /// [C, H, W] → [H, W, C].
    static func channelsLast(_ v: [Float], channels: Int, height: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for c in 0..<channels { for y in 0..<height { for x in 0..<width {
            out[(y * width + x) * channels + c] = v[(c * height + y) * width + x]
        } } }
        return out
    }

    @Test func referenceListsTheImagesAndPromptsTheTestsUse() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("reference.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["images"] as? [String] == Self.imageNames)
        #expect(json["prompts"] as? [String] == Self.prompts)
    }

    // MARK: Preprocessing

    /// The real CLIP settings (shorter side 224, bicubic, centre crop 224) on photos larger,
    /// smaller and already 224 on the short side, landscape and portrait, odd sizes: the
    /// cropped image is Pillow's exactly.
    @Test(arguments: imageNames)
    func preprocessingAt224IsPillowsBicubicByteForByte(name: String) throws {
        let image = try Self.png("images", name)
        let expected = try Self.png("pillow224", name)
        let ours = CLIPImagePreprocessor().cropped(image)
        #expect(ours.width == 224 && ours.height == 224)
        let diffs = zip(ours.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
        let worst = diffs.max() ?? 0
        let count = diffs.filter { $0 > 0 }.count
        #expect(worst == 0, "\(name) \(image.width)x\(image.height): \(count) values differ from Pillow's, by up to \(worst) levels")
    }

    /// A hostile panorama: only the kept 224 square is computed (the whole resize would be
    /// 11 200 000 × 224 pixels).
    @Test func extremeAspectRatioIsCheap() {
        let strip = RGBImage(width: 50_000, height: 1, fill: (9, 99, 199))
        let out = CLIPImagePreprocessor().cropped(strip)
        #expect(out.width == 224 && out.height == 224)
        #expect(out.pixels.enumerated().allSatisfy { $0.element == [9, 99, 199][$0.offset % 3] })
    }

    @Test func resizeKeepsTheAspectRatioAsTransformersRoundsIt() {
        let p = CLIPImagePreprocessor()
        #expect(p.resizedSize(width: 501, height: 333) == (337, 224))   // int(224 · 501/333) = int(337.01)
        #expect(p.resizedSize(width: 227, height: 389) == (224, 383))   // int(383.86): truncated, not rounded
        #expect(p.resizedSize(width: 23, height: 19) == (271, 224))
        #expect(p.resizedSize(width: 224, height: 301) == (224, 301))
    }

    /// The tiny model's processor (read from its preprocessor_config.json): rescale and
    /// normalise as CLIPImageProcessor does.
    @Test(arguments: imageNames)
    func pixelValuesMatchCLIPImageProcessor(name: String) throws {
        let model = try CLIPScoringModel(folder: Self.modelFolder)
        #expect(model.preprocessor.shortestEdge == 32 && model.preprocessor.cropSize == 32)
        let ours = model.preprocessor.pixelValues(try Self.png("images", name))
        let theirs = Self.channelsLast(try Self.reference().floats("pixels32.\(name)"), channels: 3, height: 32, width: 32)
        expectClose(ours, theirs, rtol: 0, atol: 1e-6, "pixel_values of \(name)")
    }

    @Test func preprocessorConfigRefusesStepsItWouldNotApply() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = (dir as NSString).appendingPathComponent("preprocessor_config.json")
        try #"{"size": {"shortest_edge": 224}, "resample": 2}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try CLIPImagePreprocessor(contentsOf: path) } throws: { e in
            "\(e)".contains("resample") && "\(e)".contains("bicubic") && "\(e)".contains(path)
        }
        // Older files write sizes as integers.
        try #"{"size": 224, "crop_size": 224, "do_resize": true}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let old = try CLIPImagePreprocessor(contentsOf: path)
        #expect(old.shortestEdge == 224 && old.cropSize == 224)
    }

    // MARK: Embeddings

    @Test func imageEmbeddingsMatchCLIPModel() throws {
        let model = try CLIPScoringModel(folder: Self.modelFolder)
        let ref = try Self.reference()
        let expected = try ref.floats("image_embeds")
        let p = model.config.projectionDim
        #expect(expected.count == Self.imageNames.count * p)

        // The model alone, on the processor's own pixel values.
        let pixels = try Self.imageNames.flatMap {
            Self.channelsLast(try ref.floats("pixels32.\($0)"), channels: 3, height: 32, width: 32)
        }
        let fromPixels = model.imageEmbeddings(pixelValues: Tensor(pixels, shape: [Self.imageNames.count, 32, 32, 3]))
        expectClose(fromPixels.flatMap { $0 }, expected, rtol: 0, atol: 1e-5, "image_embeds from pixel_values")

        // End to end from decoded photos, batched in twos (batching must not matter).
        model.imageBatchSize = 2
        let images = try Self.imageNames.map { try Self.png("images", $0) }
        let embeddings = try model.imageEmbeddings(images)
        #expect(embeddings.count == images.count && embeddings.allSatisfy { $0.count == p })
        expectClose(embeddings.flatMap { $0 }, expected, rtol: 0, atol: 1e-5, "image_embeds")
        for e in embeddings {
            #expect(abs(e.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5, "embeddings are unit vectors")
        }
    }

    @Test func textEmbeddingsMatchCLIPModel() throws {
        let model = try CLIPScoringModel(folder: Self.modelFolder)
        let ref = try Self.reference()
        for (i, prompt) in Self.prompts.enumerated() {
            #expect(model.tokenizer.encode(prompt, padding: false) == (try ref.floats("text_ids.\(i)").map { Int($0) }),
                    "token ids of prompt \(i)")
        }
        // text_config.eos_token_id is 2: pooled at the largest id, as transformers does.
        #expect(model.config.endOfTextTokenID == nil)
        let embeddings = try model.textEmbeddings(Self.prompts)
        #expect(embeddings.count == Self.prompts.count)
        expectClose(embeddings.flatMap { $0 }, try ref.floats("text_embeds"), rtol: 0, atol: 1e-5, "text_embeds")
    }

    // MARK: Bad folders

    /// A copy of the fixture model whose model.safetensors went through `edit`.
    static func editedModel(_ label: String = #function,
                            _ edit: (inout [String: (shape: [Int], values: [Float], dtype: SafeTensorsDType)]) -> Void) throws -> URL {
        let dir = try CheckpointFixtures.temporaryFolder(label)
        let folder = (dir as NSString).appendingPathComponent("clip")
        try CheckpointFixtures.copy(modelFolder.path, to: folder)
        let weights = (folder as NSString).appendingPathComponent("model.safetensors")
        try CheckpointFixtures.rewrite(weights, to: weights, edit: edit)
        return URL(fileURLWithPath: folder)
    }

    @Test func missingTensorIsNamed() throws {
        let folder = try Self.editedModel { $0["vision_model.post_layernorm.weight"] = nil }
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let path = folder.appendingPathComponent("model.safetensors").path
        #expect(throws: CLIPScoringError.missingTensor(path: path, name: "vision_model.post_layernorm.weight", expectedShape: [48])) {
            try CLIPScoringModel(folder: folder)
        }
        let message = CLIPScoringError.missingTensor(path: path, name: "vision_model.post_layernorm.weight", expectedShape: [48]).description
        #expect(message.contains(path) && message.contains("vision_model.post_layernorm.weight") && message.contains("missing"))
    }

    @Test func missingTextProjectionIsNamed() throws {
        let folder = try Self.editedModel { $0["text_projection.weight"] = nil }
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        #expect { try CLIPScoringModel(folder: folder) } throws: { e in
            (e as? CLIPScoringError).map { if case .missingTensor(_, "text_projection.weight", [24, 32]) = $0 { true } else { false } } ?? false
        }
    }

    @Test func unknownTensorsAreNamed() throws {
        let folder = try Self.editedModel { t in
            t["vision_model.encoder.layers.2.mlp.fc1.bias"] = ([40], [Float](repeating: 0, count: 40), .f32)
            t["vision_model.embeddings.position_ids"] = ([1, 17], (0..<17).map(Float.init), .f32)   // an old buffer: fine
        }
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        #expect(throws: CLIPScoringError.unknownTensors(path: folder.appendingPathComponent("model.safetensors").path,
                                                        names: ["vision_model.encoder.layers.2.mlp.fc1.bias"])) {
            try CLIPScoringModel(folder: folder)
        }
    }

    @Test func misshapenTensorIsNamed() throws {
        let folder = try Self.editedModel { $0["visual_projection.weight"] = ([24, 47], [Float](repeating: 0, count: 24 * 47), .f32) }
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        #expect(throws: CLIPScoringError.wrongShape(path: folder.appendingPathComponent("model.safetensors").path,
                                                    name: "visual_projection.weight", expectedShape: [24, 48], actualShape: [24, 47])) {
            try CLIPScoringModel(folder: folder)
        }
    }

    // MARK: Config

    /// transformers 4.x wrote every generic setting into the tower configs and older files add
    /// *_config_dict overrides; both load, the overrides winning.
    @Test func transformers4StyleConfigLoads() throws {
        let json = """
        {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 768, "logit_scale_init_value": 2.6592,
         "initializer_factor": 1.0, "torch_dtype": "float32", "transformers_version": "4.21.3",
         "text_config": {"model_type": "clip_text_model", "hidden_size": 512, "max_length": 20, "top_k": 50,
                         "num_beams": 1, "pruned_heads": {}, "eos_token_id": 2, "bos_token_id": 0, "dropout": 0.0,
                         "projection_dim": 768, "is_decoder": false, "chunk_size_feed_forward": 0},
         "text_config_dict": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12},
         "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024, "intermediate_size": 4096,
                           "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, "temperature": 1.0,
                           "eos_token_id": 2, "min_length": 0, "torchscript": false},
         "vision_config_dict": {"image_size": 224}}
        """
        let c = try CLIPModelConfig(json: try JSONValue.parse(Data(json.utf8), path: "config.json"), path: "config.json")
        #expect(c.projectionDim == 768)
        #expect(c.text.hiddenSize == 768 && c.text.intermediateSize == 3072 && c.text.numAttentionHeads == 12)
        #expect(c.endOfTextTokenID == nil)
        #expect(c.vision.hiddenSize == 1024 && c.vision.patchSize == 14 && c.vision.tokenCount == 257)
        #expect(c.vision.hiddenAct == .quickGELU)
    }

    @Test func configErrorsNameTheKey() throws {
        let newEOS = #"{"model_type": "clip", "text_config": {"eos_token_id": 49407}, "vision_config": {}}"#
        #expect(try CLIPModelConfig(json: try JSONValue.parse(Data(newEOS.utf8), path: "config.json")).endOfTextTokenID == 49407)

        let unknown = #"{"model_type": "clip", "text_config": {}, "vision_config": {"use_rotary": true}}"#
        #expect { try CLIPModelConfig(json: try JSONValue.parse(Data(unknown.utf8), path: "config.json"), path: "x/config.json") } throws: { e in
            "\(e)".contains("use_rotary") && "\(e)".contains("x/config.json vision_config")
        }
        let textOnly = #"{"model_type": "clip_text_model"}"#
        #expect { try CLIPModelConfig(json: try JSONValue.parse(Data(textOnly.utf8), path: "config.json")) } throws: { e in
            "\(e)".contains("model_type") && "\(e)".contains("full CLIP model")
        }
        let badPatch = #"{"model_type": "clip", "vision_config": {"image_size": 30, "patch_size": 8}}"#
        #expect { try CLIPModelConfig(json: try JSONValue.parse(Data(badPatch.utf8), path: "config.json")) } throws: { e in
            "\(e)".contains("patch_size") && "\(e)".contains("image_size 30")
        }
    }

    @Test func folderWithoutWeightsSaysSo() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = (dir as NSString).appendingPathComponent("clip")
        try CheckpointFixtures.copy(Self.modelFolder.path, to: folder)
        try FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent("model.safetensors"))
        #expect { try CLIPScoringModel(folder: URL(fileURLWithPath: folder)) } throws: { e in
            "\(e)".contains("model.safetensors")
        }
    }
}
