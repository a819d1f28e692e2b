// The parameterised layers the networks are made of. Linear and Conv2d are classes with a
// settable `lora`: training attaches an adapter to any of them (attention projections,
// feed-forward, resnet convs, text encoder projections and MLP) by walking a model's
// `linearLayers` / `convLayers`, without special code in the models. Each layer keeps its
// diffusers/transformers name relative to the model ("down_blocks.0.attentions.0.
// transformer_blocks.0.attn1.to_q", "encoder.layers.3.mlp.fc1") so adapters find their
// targets by the names adapter files use.

import Foundation
import TensorEngine

/// How models loaded from now on keep the weights of their Linear and Conv2d layers.
///
/// By default a layer keeps its checkpoint's precision: a float16 or bfloat16 weight stays in
/// that format (2 bytes instead of 4: the SD 1.5 UNet takes 1.6 GiB instead of 3.3) and is
/// widened to float32 per layer when the layer runs, forward and backward, into a buffer the
/// engine's allocator hands out again for the next layer of the same size; a training graph
/// holds no float32 copies of frozen weights. Float32 weights stay float32. Half-precision
/// weights are frozen: they are left out of the models' `parameters`, so full fine-tuning
/// (DreamBooth) and pretraining load with `.float32`; LoRA and textual inversion train other
/// tensors. DROPBOOTH_HALF_WEIGHTS=1 forces half precision (float32 weights rounded to
/// float16 on load), =0 forces float32.
public enum LayerWeightStorage {
    public enum Mode: Sendable, Equatable {
        /// Half where the checkpoint stores half (float16 / bfloat16), float32 elsewhere.
        case checkpointPrecision
        /// Every layer weight in half precision (the checkpoint's format, float16 for float32).
        case half
        /// Every layer weight in float32.
        case float32
    }

    nonisolated(unsafe) public static var mode: Mode = mode(environment: ProcessInfo.processInfo.environment)

    /// The mode DROPBOOTH_HALF_WEIGHTS asks for: "1" half, "0" float32, unset or empty the
    /// checkpoint's precision; anything else is a mistake worth stopping for.
    public static func mode(environment: [String: String]) -> Mode {
        switch environment["DROPBOOTH_HALF_WEIGHTS"] ?? "" {
        case "": return .checkpointPrecision
        case "1": return .half
        case "0": return .float32
        case let other: fatalError("DROPBOOTH_HALF_WEIGHTS=\(other): expected 1 (half-precision layer weights) or 0 (float32)")
        }
    }

    /// Runs `body` (which loads models that will be trained whole) with every layer weight
    /// in float32. Only the loads inside `body`, on its task or thread, see it: the override
    /// is task-local, so loads running elsewhere at the same time keep `mode` (it was once a
    /// save-set-restore of `mode`, which two overlapping calls could leave at float32).
    public static func withFloat32<T>(_ body: () throws -> T) rethrows -> T {
        try $float32Override.withValue(true) { try body() }
    }

    @TaskLocal static var float32Override = false

    /// The storage format for a weight the source stores as `stored` (nil: float32 or
    /// unknown), or nil to keep it float32.
    static func halfFormat(stored: HalfTensor.Format?) -> HalfTensor.Format? {
        if float32Override { return nil }
        switch mode {
        case .checkpointPrecision: return stored
        case .half: return stored ?? .float16
        case .float32: return nil
        }
    }
}

/// A layer's weight as stored: float32, or float16 values widened when used.
enum StoredWeight {
    case float32(Tensor)
    case half(HalfTensor)

    /// Reads through `read` and keeps the result in the storage `LayerWeightStorage` asks for
    /// (dropping it from the reader's `parameters` when half). Narrowing a weight the
    /// checkpoint stores in that same half format is exact: it gives back the stored bits.
    init(_ w: WeightReader, _ name: String, _ read: () throws -> Tensor) rethrows {
        let t = try read()
        if let format = LayerWeightStorage.halfFormat(stored: w.storedHalfFormat(name)) {
            w.forgetParameter(name)
            self = .half(HalfTensor(t, format: format))
        } else {
            self = .float32(t)
        }
    }

    var shape: [Int] {
        switch self {
        case .float32(let t): return t.shape
        case .half(let h): return h.shape
        }
    }

    /// The float32 tensor, or a widened copy of the half values.
    var float32: Tensor {
        switch self {
        case .float32(let t): return t
        case .half(let h): return h.widened()
        }
    }
}

/// A linear layer: weight [out, in] (PyTorch layout), optional bias, optional LoRA.
public final class Linear: @unchecked Sendable {
    public let name: String
    let storedWeight: StoredWeight
    public let bias: Tensor?
    /// Added as scale · (x · downᵀ) · upᵀ when set.
    public var lora: LoRA?
    /// Dropout on the adapter's input while training (PEFT's lora_dropout).
    public var loraDropout: LoRADropout?

    public init(name: String, weight: Tensor, bias: Tensor?) {
        self.name = name; self.storedWeight = .float32(weight); self.bias = bias
    }

    /// A layer whose frozen weight [out, in] is kept in half precision.
    public init(name: String, halfWeight: HalfTensor, bias: Tensor?) {
        self.name = name; self.storedWeight = .half(halfWeight); self.bias = bias
    }

    /// Reads `<name>.weight` [out, in] and, when `bias`, `<name>.bias` [out].
    /// `acceptConv1x1`: the checkpoint may store it as a 1x1 conv (Transformer2D proj_in/out).
    convenience init(_ w: WeightReader, _ name: String, in inF: Int, out: Int, bias: Bool = true, acceptConv1x1: Bool = false) throws {
        let weight = try StoredWeight(w, name + ".weight") {
            try w.linearWeight(name + ".weight", out: out, in: inF, acceptConv1x1: acceptConv1x1)
        }
        let bias = bias ? try w.tensor(name + ".bias", shape: [out]) : nil
        switch weight {
        case .float32(let t): self.init(name: w.layerName(name), weight: t, bias: bias)
        case .half(let h): self.init(name: w.layerName(name), halfWeight: h, bias: bias)
        }
        w.register(self)
    }

    /// The weight [out, in] in float32 (a widened copy when it is stored in half precision).
    public var weight: Tensor { storedWeight.float32 }
    /// The half-precision weight, when the layer keeps it so.
    public var halfWeight: HalfTensor? {
        if case .half(let h) = storedWeight { return h }
        return nil
    }
    public var inFeatures: Int { storedWeight.shape[1] }
    public var outFeatures: Int { storedWeight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        // With active dropout the adapter sees a masked input: base and adapter paths apart.
        if let lora, let dropout = loraDropout, dropout.isActive {
            let low = linear(dropout.apply(x, layer: name), weight: lora.down)
            return base(x, lora: nil) + linear(low, weight: lora.up) * lora.scale
        }
        return base(x, lora: lora)
    }

    /// The layer on the stored weight, float32 or widened half precision.
    private func base(_ x: Tensor, lora: LoRA?) -> Tensor {
        switch storedWeight {
        case .float32(let weight): return linear(x, weight: weight, bias: bias, lora: lora)
        case .half(let weight): return linear(x, halfWeight: weight, bias: bias, lora: lora)
        }
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
    let storedWeight: StoredWeight
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    public var lora: ConvLoRA?
    /// Dropout on the adapter's input while training (PEFT's lora_dropout).
    public var loraDropout: LoRADropout?

    public init(name: String, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) {
        self.name = name; self.storedWeight = .float32(weight); self.bias = bias; self.stride = stride; self.padding = padding
    }

    /// A convolution whose frozen weight [out, KH, KW, in] is kept in half precision.
    public init(name: String, halfWeight: HalfTensor, bias: Tensor?, stride: Int, padding: Int) {
        self.name = name; self.storedWeight = .half(halfWeight); self.bias = bias; self.stride = stride; self.padding = padding
    }

    convenience init(_ w: WeightReader, _ name: String, in inC: Int, out: Int, kernel: Int, stride: Int = 1, padding: Int = 0) throws {
        let weight = try StoredWeight(w, name + ".weight") { try w.convWeight(name + ".weight", out: out, in: inC, kernel: kernel) }
        let bias = try w.tensor(name + ".bias", shape: [out])
        switch weight {
        case .float32(let t): self.init(name: w.layerName(name), weight: t, bias: bias, stride: stride, padding: padding)
        case .half(let h): self.init(name: w.layerName(name), halfWeight: h, bias: bias, stride: stride, padding: padding)
        }
        w.register(self)
    }

    /// The weight [out, KH, KW, in] in float32 (a widened copy when stored in half precision).
    public var weight: Tensor { storedWeight.float32 }
    /// The half-precision weight, when the layer keeps it so.
    public var halfWeight: HalfTensor? {
        if case .half(let h) = storedWeight { return h }
        return nil
    }
    public var inChannels: Int { storedWeight.shape[3] }
    public var outChannels: Int { storedWeight.shape[0] }
    public var kernelSize: Int { storedWeight.shape[1] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y: Tensor
        switch storedWeight {
        case .float32(let weight): y = conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
        case .half(let weight): y = conv2d(x, halfWeight: weight, bias: bias, stride: stride, padding: padding)
        }
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
