/// The model a LoRA module belongs to, named as diffusers names the pipeline's components (the
/// prefix of every key in a diffusers LoRA file).
public enum LoRAComponent: String, Sendable, Hashable, CaseIterable, Comparable {
    case unet
    case textEncoder = "text_encoder"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One adapted layer: the component and the layer's module path inside it, e.g.
/// (.unet, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q") or
/// (.textEncoder, "text_model.encoder.layers.0.self_attn.q_proj").
///
/// Text-encoder paths are kept from CLIPTextModel's root *with* `text_model.`, as every
/// checkpoint in circulation names them; readers add it when a file (transformers 5) omits it.
public struct LoRAModule: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var component: LoRAComponent
    public var path: String

    public init(_ component: LoRAComponent, _ path: String) {
        self.component = component
        self.path = component == .textEncoder ? LoRAModule.textEncoderPath(path) : path
    }

    /// `encoder.layers.0…` → `text_model.encoder.layers.0…`; paths already rooted are kept.
    public static func textEncoderPath(_ path: String) -> String {
        path.hasPrefix("text_model.") ? path : "text_model." + path
    }

    public var description: String { "\(component.rawValue).\(path)" }

    public static func < (a: Self, b: Self) -> Bool { (a.component, a.path) < (b.component, b.path) }
}

/// One low-rank pair in PyTorch layout: `down` is [r, in] (or [r, in, kh, kw] for a convolution),
/// `up` is [out, r] (or [out, r, 1, 1]). The layer computes W + (alpha / r) · up · down.
public struct LoRAPair: Sendable, Equatable {
    public var downShape: [Int]
    public var down: [Float]
    public var upShape: [Int]
    public var up: [Float]
    public var alpha: Float

    public init(downShape: [Int], down: [Float], upShape: [Int], up: [Float], alpha: Float) {
        precondition(downShape.reduce(1, *) == down.count && upShape.reduce(1, *) == up.count, "LoRAPair: values do not match shapes")
        precondition(downShape.count >= 2 && upShape.count >= 2 && downShape[0] == upShape[1], "LoRAPair: down [r, in…] and up [out, r…] disagree on the rank")
        self.downShape = downShape; self.down = down; self.upShape = upShape; self.up = up; self.alpha = alpha
    }

    public var rank: Int { downShape[0] }
    public var outFeatures: Int { upShape[0] }
    /// Input features times the kernel area for a convolution: the column count of ΔW.
    public var inFeatures: Int { downShape.dropFirst().reduce(1, *) }
    /// The factor applied to up · down.
    public var scale: Float { alpha / Float(rank) }
    /// The shape of the weight this pair adapts: [out, in] or [out, in, kh, kw].
    public var weightShape: [Int] { [outFeatures] + Array(downShape.dropFirst()) }
}

/// A LoRA: named low-rank pairs plus the metadata its file carried (or will carry).
public struct LoRAAdapter: Sendable, Equatable {
    public var pairs: [LoRAModule: LoRAPair]
    /// The safetensors `__metadata__` read from or written to the file (see `LoRAMetadata`).
    public var metadata: [String: String]

    public init(pairs: [LoRAModule: LoRAPair] = [:], metadata: [String: String] = [:]) {
        self.pairs = pairs; self.metadata = metadata
    }

    /// Modules in a fixed order (component, then path), so files are written deterministically.
    public var modules: [LoRAModule] { pairs.keys.sorted() }

    /// The rank most modules use (ties: the largest), which kohya records as the network dim.
    public var dominantRank: Int? { Self.mostCommon(pairs.values.map { Float($0.rank) }).map { Int($0) } }
    /// The alpha most modules use (ties: the largest).
    public var dominantAlpha: Float? { Self.mostCommon(pairs.values.map(\.alpha)) }

    static func mostCommon(_ values: [Float]) -> Float? {
        var counts: [Float: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key < b.key }?.key
    }
}
