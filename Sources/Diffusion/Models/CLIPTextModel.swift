// CLIP's text transformer (transformers' CLIPTextModel), the prompt encoder of SD 1.x/2.x.
//
//   token + position embeddings → N pre-norm layers (causal self-attention, MLP) → final layer norm
//
// Tensor names as transformers writes them: "embeddings.token_embedding.weight",
// "encoder.layers.<i>.self_attn.q_proj.weight", …, "final_layer_norm.weight". Checkpoints
// written before transformers 5 (and every SD checkpoint in circulation) put "text_model."
// in front; both are accepted.

import TensorEngine

/// What the text encoder returns for a batch of token ids.
public struct CLIPTextOutput {
    /// final_layer_norm(last layer's output) [B, L, D]: the SD 1.x/2.x prompt embedding.
    public let lastHiddenState: Tensor
    /// The second-to-last layer's output, before the final layer norm [B, L, D]
    /// (transformers' hidden_states[-2]; "clip skip 2" applies finalLayerNorm to it).
    public let penultimateHiddenState: Tensor
    /// lastHiddenState at each sequence's end-of-text token [B, D].
    public let pooled: Tensor
    /// text_projection(pooled) [B, projectionDim] when the config has a projection
    /// (CLIPTextModelWithProjection's text_embeds: SDXL's second encoder), else nil.
    public let projectedPooled: Tensor?
}

public final class CLIPTextModel: @unchecked Sendable {
    public let config: CLIPTextConfig
    public let tokenEmbedding: Tensor       // [vocab, D]
    public let positionEmbedding: Tensor    // [maxPositions, D]
    public let layers: [CLIPEncoderLayer]
    public let finalLayerNorm: LayerNorm
    /// "text_projection" [projectionDim, D], no bias, when config.projectionDim is set.
    public let textProjection: Linear?
    /// Token id whose position gives the pooled output (transformers' eos_token_id; CLIP's
    /// <|endoftext|> is 49407). nil: the position of the largest id, as old configs did.
    public var endOfTextTokenID: Int?
    /// Extra token rows [E, D] after the vocabulary: ids vocabSize ..< vocabSize + E look them
    /// up (the ids a tokenizer gives added tokens). Textual inversion trains these (set
    /// requiresGrad) while the vocabulary stays frozen; loaded embeddings go here too.
    public var appendedTokenEmbeddings: Tensor? {
        didSet {
            if let t = appendedTokenEmbeddings {
                precondition(t.rank == 2 && t.shape[1] == config.hiddenSize, "appended token embeddings \(t.shape) must be [E, \(config.hiddenSize)]")
            }
        }
    }
    /// Recompute each layer in backward instead of keeping its activations.
    public var gradientCheckpointing = false
    /// Every linear layer by name ("encoder.layers.0.self_attn.q_proj", …), for LoRA.
    public let linearLayers: [Linear]
    /// Every parameter by name relative to the model (conv weights in engine layout).
    public let parameters: [String: Tensor]
    /// Tensors of the weight source this model did not use (sorted): a loader reports them.
    public let unusedTensorNames: [String]

    public init(config: CLIPTextConfig, weights source: WeightSource, endOfTextTokenID: Int? = 49407) throws {
        try config.validate()
        let root = WeightReader(source, prefix: source.contains("text_model.embeddings.token_embedding.weight") ? "text_model." : "")
        let d = config.hiddenSize
        self.config = config
        tokenEmbedding = try root.tensor("embeddings.token_embedding.weight", shape: [config.vocabSize, d])
        positionEmbedding = try root.tensor("embeddings.position_embedding.weight", shape: [config.maxPositionEmbeddings, d])
        layers = try (0..<config.numHiddenLayers).map { try CLIPEncoderLayer(root.scoped("encoder.layers.\($0)"), config) }
        finalLayerNorm = try LayerNorm(root, "final_layer_norm", dim: d, eps: config.layerNormEps)
        // transformers keeps text_projection outside text_model, whichever prefix the rest has.
        let top = WeightReader(source)
        textProjection = try config.projectionDim.map { try Linear(top, "text_projection", in: d, out: $0, bias: false) }
        self.endOfTextTokenID = endOfTextTokenID
        linearLayers = root.linearLayers + top.linearLayers
        parameters = root.parameters.merging(top.parameters) { a, _ in a }
        unusedTensorNames = root.unusedNames.filter { !top.usedNames.contains($0) }
    }

    /// Token embeddings for ids [B][L]: [B, L, D], from the vocabulary and the appended rows.
    public func embed(_ ids: [[Int]]) -> Tensor {
        let l = ids.first?.count ?? 0
        precondition(ids.allSatisfy { $0.count == l }, "every sequence in a batch needs the same length")
        return embedding(tokenEmbedding, appended: appendedTokenEmbeddings, ids: ids.flatMap { $0 })
            .reshaped([ids.count, l, config.hiddenSize])
    }

    /// Encodes token ids [B][L] (L ≤ max positions, usually 77).
    public func encode(_ ids: [[Int]]) -> CLIPTextOutput {
        encode(tokenEmbeddings: embed(ids), ids: ids)
    }

    /// Encodes given token embeddings [B, L, D]; `ids` locate the end-of-text token for `pooled`.
    public func encode(tokenEmbeddings: Tensor, ids: [[Int]]) -> CLIPTextOutput {
        let (b, l, d) = (tokenEmbeddings.shape[0], tokenEmbeddings.shape[1], tokenEmbeddings.shape[2])
        precondition(l <= config.maxPositionEmbeddings, "\(l) tokens, the text encoder has \(config.maxPositionEmbeddings) positions")
        precondition(d == config.hiddenSize && ids.count == b, "token embeddings \(tokenEmbeddings.shape) do not fit \(ids.count) sequences of width \(config.hiddenSize)")
        let positions = embedding(positionEmbedding, ids: Array(0..<l))          // [L, D]
        var h = tokenEmbeddings + positions
        var penultimate = h
        for (i, layer) in layers.enumerated() {
            if i == layers.count - 1 { penultimate = h }
            h = gradientCheckpointing ? checkpoint([h]) { layer($0[0]) } : layer(h)
        }
        let last = finalLayerNorm(h)
        let pooled = pool(last, ids)
        return CLIPTextOutput(lastHiddenState: last, penultimateHiddenState: penultimate, pooled: pooled,
                              projectedPooled: textProjection?(pooled))
    }

    private func pool(_ states: Tensor, _ ids: [[Int]]) -> Tensor {
        let (l, d) = (states.shape[1], states.shape[2])
        let rows = ids.enumerated().map { b, seq -> Tensor in
            let index = endOfTextTokenID.flatMap { seq.firstIndex(of: $0) }
                ?? seq.indices.max { seq[$0] < seq[$1] } ?? 0
            return slice(states.reshaped([ids.count * l, d]), axis: 0, start: b * l + index, length: 1)
        }
        return concat(rows, axis: 0)
    }
}

/// One pre-norm transformer layer: x + attn(ln1(x)), then + mlp(ln2(x)). The text transformer
/// runs it causally; CLIP's vision transformer runs the same layer with every patch seeing
/// every other.
public final class CLIPEncoderLayer: @unchecked Sendable {
    let layerNorm1: LayerNorm, layerNorm2: LayerNorm
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let fc1: Linear, fc2: Linear
    let heads: Int
    let activation: CLIPActivation
    /// Token i attends only to tokens 0...i (text), or to all tokens (vision).
    public let causal: Bool

    convenience init(_ w: WeightReader, _ c: CLIPTextConfig) throws {
        try self.init(w, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize, heads: c.numAttentionHeads,
                      activation: c.hiddenAct, layerNormEps: c.layerNormEps, causal: true)
    }

    init(_ w: WeightReader, hiddenSize d: Int, intermediateSize: Int, heads: Int, activation: CLIPActivation,
         layerNormEps: Float, causal: Bool) throws {
        layerNorm1 = try LayerNorm(w, "layer_norm1", dim: d, eps: layerNormEps)
        layerNorm2 = try LayerNorm(w, "layer_norm2", dim: d, eps: layerNormEps)
        qProj = try Linear(w, "self_attn.q_proj", in: d, out: d)
        kProj = try Linear(w, "self_attn.k_proj", in: d, out: d)
        vProj = try Linear(w, "self_attn.v_proj", in: d, out: d)
        outProj = try Linear(w, "self_attn.out_proj", in: d, out: d)
        fc1 = try Linear(w, "mlp.fc1", in: d, out: intermediateSize)
        fc2 = try Linear(w, "mlp.fc2", in: intermediateSize, out: d)
        self.heads = heads
        self.activation = activation
        self.causal = causal
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let n = layerNorm1(x)
        let (q, k, v) = (qProj(n), kProj(n), vProj(n))
        let attended = causal ? causalAttention(q, k, v, heads: heads) : attention(q: q, k: k, v: v, heads: heads)
        var h = x + outProj(attended)
        let m = fc1(layerNorm2(h))
        h = h + fc2(activation == .quickGELU ? quickGELU(m) : gelu(m))
        return h
    }
}
