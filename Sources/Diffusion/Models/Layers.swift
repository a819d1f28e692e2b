// The parameterised layers the networks are made of. Linear and Conv2d are classes with a
// settable `lora`: training attaches an adapter to any of them (attention projections,
// feed-forward, resnet convs, text encoder projections and MLP) by walking a model's
// `linearLayers` / `convLayers`, without special code in the models. Each layer keeps its
// diffusers/transformers name relative to the model ("down_blocks.0.attentions.0.
// transformer_blocks.0.attn1.to_q", "encoder.layers.3.mlp.fc1") so adapters find their
// targets by the names adapter files use.

import TensorEngine

/// A linear layer: weight [out, in] (PyTorch layout), optional bias, optional LoRA.
public final class Linear: @unchecked Sendable {
    public let name: String
    public let weight: Tensor
    public let bias: Tensor?
    /// Added as scale · (x · downᵀ) · upᵀ when set.
    public var lora: LoRA?
    /// Dropout on the adapter's input while training (PEFT's lora_dropout).
    public var loraDropout: LoRADropout?

    public init(name: String, weight: Tensor, bias: Tensor?) {
        self.name = name; self.weight = weight; self.bias = bias
    }

    /// Reads `<name>.weight` [out, in] and, when `bias`, `<name>.bias` [out].
    /// `acceptConv1x1`: the checkpoint may store it as a 1x1 conv (Transformer2D proj_in/out).
    convenience init(_ w: WeightReader, _ name: String, in inF: Int, out: Int, bias: Bool = true, acceptConv1x1: Bool = false) throws {
        self.init(name: w.layerName(name),
                  weight: try w.linearWeight(name + ".weight", out: out, in: inF, acceptConv1x1: acceptConv1x1),
                  bias: bias ? try w.tensor(name + ".bias", shape: [out]) : nil)
        w.register(self)
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard let lora, let dropout = loraDropout, dropout.isActive else { return linear(x, weight: weight, bias: bias, lora: lora) }
        let low = linear(dropout.apply(x, layer: name), weight: lora.down)
        return linear(x, weight: weight, bias: bias) + linear(low, weight: lora.up) * lora.scale
    }
}

/// PEFT's lora_dropout: while training (autograd recording), the adapter sees its input as
/// x · mask / (1 − p), mask ~ Bernoulli(1 − p); the base path sees x unchanged. The mask is a
/// function of `key` (set by the trainer per micro-batch) and the layer's name, so the
/// recomputation of gradient checkpointing draws the same mask as the forward pass, and a
/// resumed run the same as an uninterrupted one. Sampling (no autograd) uses no dropout.
public final class LoRADropout: @unchecked Sendable {
    public let probability: Float
    public var key: UInt64 = 0

    public init(probability: Float) {
        precondition((0..<1).contains(probability), "LoRA dropout \(probability): expected 0 ≤ p < 1")
        self.probability = probability
    }

    var isActive: Bool { probability > 0 && Autograd.isRecording }

    func apply(_ x: Tensor, layer: String) -> Tensor {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in layer.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var rng = PhiloxRandom(seed: key ^ hash)
        let mask = Tensor(uninitializedShape: x.shape)
        rng.fillUniform(mask.data, count: mask.count, low: 0, high: 1)
        let keep = 1 - probability, kept = 1 / keep
        for i in 0..<mask.count { mask.data[i] = mask.data[i] < keep ? kept : 0 }
        return x * mask
    }
}

/// LoRA on a convolution (PEFT's Conv2d LoRA): `down` is a conv with the layer's kernel,
/// stride and padding to `rank` channels [rank, KH, KW, in]; `up` is a 1x1 conv back
/// [out, 1, 1, rank]; the output adds scale · up(down(x)).
public struct ConvLoRA {
    public var down: Tensor
    public var up: Tensor
    public var scale: Float
    public init(down: Tensor, up: Tensor, scale: Float) {
        precondition(down.rank == 4 && up.rank == 4 && up.shape[1] == 1 && up.shape[2] == 1 && up.shape[3] == down.shape[0],
                     "ConvLoRA down \(down.shape) and up \(up.shape) do not match")
        self.down = down; self.up = up; self.scale = scale
    }
}

/// A 2-D convolution on NHWC tensors: weight [out, KH, KW, in] (converted from OIHW by the
/// WeightReader), bias [out], optional LoRA.
public final class Conv2d: @unchecked Sendable {
    public let name: String
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    public var lora: ConvLoRA?
    /// Dropout on the adapter's input while training (PEFT's lora_dropout).
    public var loraDropout: LoRADropout?

    public init(name: String, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) {
        self.name = name; self.weight = weight; self.bias = bias; self.stride = stride; self.padding = padding
    }

    convenience init(_ w: WeightReader, _ name: String, in inC: Int, out: Int, kernel: Int, stride: Int = 1, padding: Int = 0) throws {
        self.init(name: w.layerName(name),
                  weight: try w.convWeight(name + ".weight", out: out, in: inC, kernel: kernel),
                  bias: try w.tensor(name + ".bias", shape: [out]), stride: stride, padding: padding)
        w.register(self)
    }

    public var inChannels: Int { weight.shape[3] }
    public var outChannels: Int { weight.shape[0] }
    public var kernelSize: Int { weight.shape[1] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
        guard let lora else { return y }
        let input = loraDropout.map { $0.isActive ? $0.apply(x, layer: name) : x } ?? x
        let low = conv2d(input, weight: lora.down, stride: stride, padding: padding)
        return y + conv2d(low, weight: lora.up) * lora.scale
    }
}

/// Layer norm over the last dimension with its affine parameters.
public struct LayerNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    init(_ w: WeightReader, _ name: String, dim: Int, eps: Float) throws {
        weight = try w.tensor(name + ".weight", shape: [dim])
        bias = try w.tensor(name + ".bias", shape: [dim])
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// Group norm over channels-last tensors; `silu` fuses the activation that follows it in
/// resnets and output heads.
public struct GroupNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Float

    init(_ w: WeightReader, _ name: String, channels: Int, groups: Int, eps: Float) throws {
        weight = try w.tensor(name + ".weight", shape: [channels])
        bias = try w.tensor(name + ".bias", shape: [channels])
        self.groups = groups; self.eps = eps
    }

    public func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    }
}
