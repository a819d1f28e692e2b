// A tensor the optimiser updates, with the name adapter files and fixtures know it by.

import TensorEngine

/// Which network a trainable tensor lives in (adapter files prefix "unet." / "text_encoder.").
public enum ModelPart: String, Sendable, Codable {
    case unet
    case textEncoder = "text_encoder"
}

/// How the engine stores a tensor relative to PyTorch: convolution weights are channels-last
/// [O, KH, KW, I] in the engine and OIHW in every file; everything else is the same memory.
public enum ParameterLayout: Sendable, Equatable {
    case pytorch
    case convChannelsLast
}

public struct TrainableParameter: @unchecked Sendable {
    public let part: ModelPart
    /// The name relative to its model: PEFT's for LoRA factors ("…attn1.to_q.lora_A.weight"),
    /// the checkpoint's for full fine-tuning ("conv_in.weight"), "appended_token_embeddings"
    /// for textual inversion.
    public let name: String
    public let tensor: Tensor
    public let layout: ParameterLayout

    public init(part: ModelPart, name: String, tensor: Tensor, layout: ParameterLayout = .pytorch) {
        self.part = part; self.name = name; self.tensor = tensor; self.layout = layout
    }

    /// The name with its model's prefix for the text encoder ("text_encoder.encoder.layers.0…"),
    /// bare for the UNet: the keys of the fixtures and of diffusers' PEFT state dicts.
    public var qualifiedName: String { part == .unet ? name : "\(part.rawValue).\(name)" }

    /// The shape PyTorch gives this tensor.
    public var pytorchShape: [Int] {
        let s = tensor.shape
        return layout == .pytorch ? s : [s[0], s[3], s[1], s[2]]
    }

    /// Values in PyTorch's layout (for files and comparisons).
    public func pytorchValues(of t: Tensor? = nil) -> [Float] {
        let source = t ?? tensor
        guard layout == .convChannelsLast, source.shape[1] * source.shape[2] > 1 else { return source.scalars }
        return noGrad { source.permuted([0, 3, 1, 2]).scalars }
    }

    /// Overwrites the values from PyTorch's layout (initial values from a file or fixture).
    public func load(pytorchValues values: [Float]) {
        precondition(values.count == tensor.count, "\(qualifiedName): \(values.count) values for \(tensor.count) elements")
        let source = Tensor(values, shape: pytorchShape)
        let converted = layout == .convChannelsLast ? noGrad { source.permuted([0, 2, 3, 1]) } : source
        tensor.data.update(from: converted.data, count: tensor.count)
    }
}
