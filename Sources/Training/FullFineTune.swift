// DreamBooth's full fine-tune: every UNet weight trains.
//
// Memory: besides the weights (4 bytes each), AdamW keeps two moments and backward a
// gradient, so 16 bytes per parameter before activations: the tiny test UNet's ~290 k
// parameters are 4.6 MB, SD 1.5's 860 M are ~13.8 GB, which is why LoRA is the CPU default.
// Gradient checkpointing (unet.gradientCheckpointing) bounds the activations, not this.

import Diffusion
import TensorEngine

public struct FullFineTuneError: Error, CustomStringConvertible {
    public let parameter: String
    public var description: String {
        "parameter \(parameter) is read-only (memory-mapped from the checkpoint); a full fine-tune needs the network loaded into owned memory"
    }
}

public enum FullFineTune {
    /// Marks every UNet parameter trainable and returns them sorted by name.
    public static func parameters(of unet: UNet2DConditionModel) throws -> [TrainableParameter] {
        try unet.parameters.sorted { $0.key < $1.key }.map { name, tensor in
            guard tensor.storage.isWritable else { throw FullFineTuneError(parameter: name) }
            tensor.requiresGrad = true
            return TrainableParameter(part: .unet, name: name, tensor: tensor,
                                      layout: tensor.rank == 4 ? .convChannelsLast : .pytorch)
        }
    }

    /// Marks every text-encoder parameter trainable (DreamBooth's --train_text_encoder, which
    /// the seeds found to help with faces) and returns them sorted by name. The token table
    /// gets a dense [vocab, D] gradient: 49408 × 768 floats for SD 1.x, ~150 MB.
    public static func parameters(of textEncoder: CLIPTextModel) throws -> [TrainableParameter] {
        try textEncoder.parameters.sorted { $0.key < $1.key }.map { name, tensor in
            guard tensor.storage.isWritable else { throw FullFineTuneError(parameter: "text_encoder.\(name)") }
            tensor.requiresGrad = true
            return TrainableParameter(part: .textEncoder, name: name, tensor: tensor)
        }
    }

    /// Marks every VAE parameter trainable and returns them sorted by name (conv weights in
    /// the engine's [O, KH, KW, I] layout): pretraining a base model's autoencoder.
    public static func parameters(of vae: AutoencoderKL) throws -> [(name: String, tensor: Tensor)] {
        try vae.parameters.sorted { $0.key < $1.key }.map { name, tensor in
            guard tensor.storage.isWritable else { throw FullFineTuneError(parameter: "vae.\(name)") }
            tensor.requiresGrad = true
            return (name, tensor)
        }
    }
}
