import TensorEngine

/// LoRA factors for named layers of a UNet and a text encoder, by the model-relative names the
/// layers carry ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
/// "encoder.layers.3.mlp.fc1"). A file reader (PEFT/diffusers or kohya keys) produces this;
/// `AdapterApplication` attaches a set of them to the models.
public struct LowRankWeights: Sendable {
    /// One layer's factors. Linear: down [rank, in], up [out, rank]. Conv: down [rank, KH, KW, in]
    /// and up [out, 1, 1, rank] in the engine's layout.
    public struct Pair: @unchecked Sendable {
        public var down: Tensor
        public var up: Tensor
        /// The file's alpha; the effective weight is alpha / rank (1 when absent).
        public var alpha: Float?
        public init(down: Tensor, up: Tensor, alpha: Float? = nil) {
            self.down = down; self.up = up; self.alpha = alpha
        }
        public var rank: Int { down.shape[0] }
        /// alpha / rank, the factor PEFT and kohya apply on top of the user's scale.
        public var alphaScale: Float { (alpha ?? Float(rank)) / Float(rank) }
    }

    public var unet: [String: Pair]
    public var textEncoder: [String: Pair]

    public init(unet: [String: Pair] = [:], textEncoder: [String: Pair] = [:]) {
        self.unet = unet; self.textEncoder = textEncoder
    }
}
