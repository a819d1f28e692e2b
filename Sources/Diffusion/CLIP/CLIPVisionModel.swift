// CLIP's vision transformer (transformers' CLIPVisionModel inside a CLIPModel):
//
//   image → P×P patches (a stride-P convolution without bias) → [class token, patches]
//   + position embeddings → pre_layrnorm → N pre-norm layers (unmasked self-attention, MLP)
//   → post_layernorm of the class token = the pooled output
//
// Tensor names as a CLIPModel folder stores them, under "vision_model.":
// "embeddings.patch_embedding.weight" [D, 3, P, P], "embeddings.class_embedding" [D],
// "embeddings.position_embedding.weight" [tokens, D], "pre_layrnorm.*" (transformers' spelling),
// "encoder.layers.<i>.*" (the text transformer's layer names), "post_layernorm.*".

import TensorEngine

public final class CLIPVisionModel: @unchecked Sendable {
    public let config: CLIPVisionConfig
    /// The patch convolution's weight in engine layout [D, P, P, 3].
    let patchEmbedding: Tensor
    let classEmbedding: Tensor       // [D]
    let positionEmbedding: Tensor    // [tokens, D]
    let preLayerNorm: LayerNorm
    let layers: [CLIPEncoderLayer]
    let postLayerNorm: LayerNorm

    /// Reads the tower from `w` (a reader scoped to "vision_model").
    init(config c: CLIPVisionConfig, weights w: WeightReader) throws {
        config = c
        let d = c.hiddenSize
        patchEmbedding = try w.convWeight("embeddings.patch_embedding.weight", out: d, in: c.numChannels, kernel: c.patchSize)
        classEmbedding = try w.tensor("embeddings.class_embedding", shape: [d])
        positionEmbedding = try w.tensor("embeddings.position_embedding.weight", shape: [c.tokenCount, d])
        preLayerNorm = try LayerNorm(w, "pre_layrnorm", dim: d, eps: c.layerNormEps)
        layers = try (0..<c.numHiddenLayers).map {
            try CLIPEncoderLayer(w.scoped("encoder.layers.\($0)"), hiddenSize: d, intermediateSize: c.intermediateSize,
                                 heads: c.numAttentionHeads, activation: c.hiddenAct, layerNormEps: c.layerNormEps,
                                 causal: false)
        }
        postLayerNorm = try LayerNorm(w, "post_layernorm", dim: d, eps: c.layerNormEps)
    }

    /// The pooled output [B, D] for preprocessed images [B, S, S, 3] (channels-last, S the
    /// config's image size).
    public func pooled(_ pixels: Tensor) -> Tensor {
        let (s, d) = (config.imageSize, config.hiddenSize)
        precondition(pixels.rank == 4 && pixels.shape[1] == s && pixels.shape[2] == s && pixels.shape[3] == config.numChannels,
                     "CLIP vision model takes [B, \(s), \(s), \(config.numChannels)] pixels, got \(pixels.shape)")
        let b = pixels.shape[0]
        let patches = conv2d(pixels, weight: patchEmbedding, stride: config.patchSize)     // [B, G, G, D]
            .reshaped([b, config.tokenCount - 1, d])
        // The class token leads every sequence; position 0 is its position.
        let classTokens = concat(Array(repeating: classEmbedding.reshaped([1, 1, d]), count: b), axis: 0)
        var h = concat([classTokens, patches], axis: 1) + positionEmbedding
        h = preLayerNorm(h)
        for layer in layers { h = layer(h) }
        let classOutput = slice(h, axis: 1, start: 0, length: 1).reshaped([b, d])
        return postLayerNorm(classOutput)
    }
}
