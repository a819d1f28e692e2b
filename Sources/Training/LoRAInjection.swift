// Attaches LoRA adapters to a model's layers and returns their factors as trainable
// parameters, in a deterministic order (the model's layer build order; A before B).
//
// As PEFT builds them: the output adds (alpha / rank) · B(A(x)); A ("lora_A", `down`) starts
// as nn.Linear's default init, kaiming-uniform with a = √5, i.e. U(−1/√fan_in, 1/√fan_in)
// (fan_in = in · kh · kw for a conv); B ("lora_B", `up`) starts at zero, so the adapted model
// starts exactly at the base model. Conv layers get PEFT's conv LoRA: A a conv with the
// layer's kernel, stride and padding to `rank` channels, B a 1x1 conv.

import Diffusion
import TensorEngine

public struct LoRAOptions: Sendable, Codable, Equatable {
    public var rank: Int
    public var alpha: Float
    public var targets: [LoRATarget]
    /// How A starts (B always starts at zero).
    public var initialization: Initialization = .kaimingUniform
    public var seed: UInt64 = 0

    public enum Initialization: String, Sendable, Codable {
        /// PEFT's default (init_lora_weights=True).
        case kaimingUniform = "kaiming_uniform"
        /// PEFT's init_lora_weights="gaussian": A ~ N(0, 1/rank).
        case gaussian
    }

    public init(rank: Int, alpha: Float, targets: [LoRATarget], initialization: Initialization = .kaimingUniform, seed: UInt64 = 0) {
        self.rank = rank; self.alpha = alpha; self.targets = targets; self.initialization = initialization; self.seed = seed
    }

    /// PEFT's scaling (no rsLoRA): alpha / rank.
    public var scale: Float { alpha / Float(rank) }
}

public enum LoRAInjection {
    /// Adds adapters to the UNet layers the options' UNet targets select.
    @discardableResult
    public static func inject(into unet: UNet2DConditionModel, _ options: LoRAOptions, dropout: LoRADropout? = nil) -> [TrainableParameter] {
        inject(part: .unet, linears: unet.linearLayers, convs: unet.convLayers, options, dropout: dropout)
    }

    /// Adds adapters to the text-encoder layers the options' text targets select.
    @discardableResult
    public static func inject(into textEncoder: CLIPTextModel, _ options: LoRAOptions, dropout: LoRADropout? = nil) -> [TrainableParameter] {
        inject(part: .textEncoder, linears: textEncoder.linearLayers, convs: [], options, dropout: dropout)
    }

    /// `dropout`: PEFT's lora_dropout on every adapted layer (one shared object, whose key the
    /// training run sets per micro-batch).
    static func inject(part: ModelPart, linears: [Linear], convs: [Conv2d], _ options: LoRAOptions,
                       dropout: LoRADropout? = nil) -> [TrainableParameter] {
        precondition(options.rank > 0, "LoRA rank must be positive")
        let targets = options.targets.filter { $0.part == part }
        // One generator per model part, so adding text-encoder targets does not change the
        // UNet's initial values.
        var rng = PhiloxRandom(seed: options.seed &+ (part == .unet ? 0 : 1))
        var parameters: [TrainableParameter] = []
        func initialDown(_ shape: [Int], fanIn: Int) -> Tensor {
            switch options.initialization {
            case .kaimingUniform:
                let bound = 1 / Float(fanIn).squareRoot()
                return rng.uniform(shape: shape, low: -bound, high: bound)
            case .gaussian:
                return rng.normal(shape: shape, std: 1 / Float(options.rank))
            }
        }
        func trainable(_ t: Tensor) -> Tensor { t.requiresGrad = true; return t }

        for layer in linears where targets.contains(where: { $0.matches(layer.name) }) {
            let down = trainable(initialDown([options.rank, layer.inFeatures], fanIn: layer.inFeatures))
            let up = trainable(Tensor(zeros: [layer.outFeatures, options.rank]))
            layer.lora = LoRA(down: down, up: up, scale: options.scale)
            layer.loraDropout = dropout
            parameters.append(TrainableParameter(part: part, name: layer.name + ".lora_A.weight", tensor: down))
            parameters.append(TrainableParameter(part: part, name: layer.name + ".lora_B.weight", tensor: up))
        }
        for layer in convs where targets.contains(where: { $0.matches(layer.name) }) {
            let k = layer.kernelSize
            let down = trainable(initialDown([options.rank, k, k, layer.inChannels], fanIn: layer.inChannels * k * k))
            let up = trainable(Tensor(zeros: [layer.outChannels, 1, 1, options.rank]))
            layer.lora = ConvLoRA(down: down, up: up, scale: options.scale)
            layer.loraDropout = dropout
            parameters.append(TrainableParameter(part: part, name: layer.name + ".lora_A.weight", tensor: down, layout: .convChannelsLast))
            parameters.append(TrainableParameter(part: part, name: layer.name + ".lora_B.weight", tensor: up, layout: .convChannelsLast))
        }
        return parameters
    }
}
