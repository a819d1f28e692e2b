// The CLIP model evaluation measures with (DreamBooth's CLIP-I and CLIP-T: cosine similarities
// of CLIP image embeddings between generated and real photos, and between generated images
// and their prompts). It loads a transformers CLIPModel folder as save_pretrained writes it
// (with the processor saved beside it, as on the Hub):
//
//   config.json                 model_type "clip", text_config, vision_config, projection_dim
//   model.safetensors           (or shards with model.safetensors.index.json)
//   vocab.json + merges.txt, or tokenizer.json; tokenizer_config.json, special_tokens_map.json
//   preprocessor_config.json    optional: CLIPImageProcessor's settings
//
// Tensor names: text_model.* (the text transformer, read by CLIPTextModel), vision_model.*
// (CLIPVisionModel), text_projection.weight [P, Dt], visual_projection.weight [P, Dv] (no
// biases), logit_scale []. An embedding is the projection of a tower's pooled output, L2-
// normalised, so the dot product of two is their cosine similarity.

import Foundation
import Imaging
import ModelIO
import TensorEngine

public final class CLIPScoringModel: @unchecked Sendable {
    public let config: CLIPModelConfig
    public let preprocessor: CLIPImagePreprocessor
    public let tokenizer: CLIPTokenizer
    public let textModel: CLIPTextModel
    public let visionModel: CLIPVisionModel
    let visualProjection: Linear
    /// CLIP's learned temperature (logits = exp(logitScale) · cosine similarity); the
    /// CLIP-score convention of 100 · cosine corresponds to OpenAI's trained value.
    public let logitScale: Float
    /// Images per forward pass of the vision tower (bounds memory for long lists).
    public var imageBatchSize = 8

    /// Loads the folder; throws CheckpointError (config, weight files), TokenizerError, or
    /// CLIPScoringError (missing, misshapen or unknown tensors), each naming the file.
    public init(folder: URL) throws {
        let dir = folder.path
        let configPath = folder.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw CheckpointError.missingFile(path: configPath, what: "(a transformers CLIPModel folder has config.json)")
        }
        config = try CLIPModelConfig(contentsOf: configPath)
        let preprocessorPath = folder.appendingPathComponent("preprocessor_config.json").path
        preprocessor = FileManager.default.fileExists(atPath: preprocessorPath)
            ? try CLIPImagePreprocessor(contentsOf: preprocessorPath)
            : CLIPImagePreprocessor(shortestEdge: config.vision.imageSize, cropSize: config.vision.imageSize)
        if preprocessor.cropSize != config.vision.imageSize {
            throw CheckpointError.invalidConfig(path: preprocessorPath, key: "crop_size",
                                                reason: "\(preprocessor.cropSize) differs from vision_config.image_size \(config.vision.imageSize) in config.json")
        }
        tokenizer = try CLIPTokenizer(folder: folder)
        if tokenizer.maxLength > config.text.maxPositionEmbeddings {
            throw CheckpointError.invalidConfig(path: folder.appendingPathComponent("tokenizer_config.json").path, key: "model_max_length",
                                                reason: "\(tokenizer.maxLength) exceeds the text model's \(config.text.maxPositionEmbeddings) positions")
        }

        let files = try DiffusersFolder.weights(in: dir, base: "model", variant: nil)
        let weightsPath = files.paths.count == 1 ? files.paths[0] : dir
        let source = TensorFilesWeights(files)
        do {
            var textConfig = config.text
            textConfig.projectionDim = config.projectionDim
            textModel = try CLIPTextModel(config: textConfig, weights: source, endOfTextTokenID: config.endOfTextTokenID)
            let top = WeightReader(source)
            visionModel = try CLIPVisionModel(config: config.vision, weights: top.scoped("vision_model"))
            visualProjection = try Linear(top, "visual_projection", in: config.vision.hiddenSize, out: config.projectionDim, bias: false)
            logitScale = try top.tensor("logit_scale", shape: []).item
            // Index buffers older transformers saved with the weights.
            let buffers: Set<String> = ["text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"]
            let unknown = textModel.unusedTensorNames.filter { !top.usedNames.contains($0) && !buffers.contains($0) }
            if !unknown.isEmpty { throw CLIPScoringError.unknownTensors(path: weightsPath, names: unknown) }
        } catch let e as WeightError {
            switch e {
            case .missing(let name, let shape):
                throw CLIPScoringError.missingTensor(path: weightsPath, name: name, expectedShape: shape)
            case .wrongShape(let name, let expected, let actual):
                throw CLIPScoringError.wrongShape(path: weightsPath, name: name, expectedShape: expected, actualShape: actual)
            }
        }
    }

    /// One L2-normalised embedding (projectionDim floats) per image, in order.
    public func imageEmbeddings(_ images: [RGBImage]) throws -> [[Float]] {
        var out: [[Float]] = []
        for start in stride(from: 0, to: images.count, by: max(1, imageBatchSize)) {
            let batch = Array(images[start..<min(images.count, start + max(1, imageBatchSize))])
            out += imageEmbeddings(pixelValues: preprocessor.pixelValues(batch))
        }
        return out
    }

    /// Embeddings of preprocessed pixels [B, S, S, 3] (channels-last; see CLIPImagePreprocessor).
    public func imageEmbeddings(pixelValues: Tensor) -> [[Float]] {
        noGrad { Self.normalizedRows(visualProjection(visionModel.pooled(pixelValues))) }
    }

    /// One L2-normalised embedding per text, in order. Texts longer than the tokenizer's
    /// context (77 tokens) are truncated as transformers' CLIPProcessor(truncation=True) does.
    public func textEmbeddings(_ texts: [String]) throws -> [[Float]] {
        textEmbeddings(tokenIDs: texts.map { tokenizer.encode($0, padding: false) })
    }

    /// Embeddings of token id sequences (start token, text, end token; padding after the end
    /// token does not change the result: attention is causal and pooling reads the end token).
    public func textEmbeddings(tokenIDs: [[Int]]) -> [[Float]] {
        // Sequences of different lengths run one at a time (a batch needs one length).
        noGrad {
            tokenIDs.flatMap { ids in
                Self.normalizedRows(textModel.encode([ids]).projectedPooled!)
            }
        }
    }

    /// Rows of x [B, P] divided by their L2 norms.
    static func normalizedRows(_ x: Tensor) -> [[Float]] {
        let (b, p) = (x.shape[0], x.shape[1])
        return (0..<b).map { i in
            let row = Array(UnsafeBufferPointer(start: x.data + i * p, count: p))
            let norm = row.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            return row.map { Float(Double($0) / max(norm, 1e-12)) }
        }
    }
}

/// A folder's safetensors files as a WeightSource, names as stored.
final class TensorFilesWeights: WeightSource, @unchecked Sendable {
    let files: TensorFiles
    init(_ files: TensorFiles) { self.files = files }
    var tensorNames: [String] { Array(files.tensors.keys) }
    func contains(_ name: String) -> Bool { files.tensors[name] != nil }
    func tensor(named name: String) throws -> Tensor? { try files.tensors[name].map { try TensorFiles.load($0) } }
}
