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
        "UNet parameter \(parameter) is read-only (memory-mapped from the checkpoint); a full fine-tune needs the UNet loaded into owned memory"
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
}
