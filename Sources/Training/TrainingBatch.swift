// One micro-batch as a training step consumes it: everything random already drawn, so a step
// is a pure function of the batch and the parameters (fixtures record batches; resume replays
// the generator state that draws them).

import TensorEngine

/// What the UNet is conditioned on.
public enum Conditioning {
    /// Cached text-encoder states [N, L, D] (frozen text encoder, embeddings computed once).
    case hiddenStates(Tensor)
    /// Token ids [N][L]: the text encoder runs inside the step (it has LoRA adapters or
    /// textual-inversion rows that learn).
    case tokenIDs([[Int]])
}

public struct TrainingBatch {
    /// Image latents [N, H, W, C] (channels-last), already VAE-encoded and multiplied by the
    /// VAE's scaling factor. With prior preservation the first half is instance images, the
    /// second half class images (diffusers' DreamBooth collate order).
    public var latents: Tensor
    /// Standard-normal noise of the latents' shape.
    public var noise: Tensor
    /// Per-sample, per-channel normals [N, C] for the noise offset (diffusers draws
    /// randn(N, C, 1, 1)); nil when the offset is off.
    public var offsetNoise: Tensor?
    /// One training timestep per sample, 0 ..< numTrainTimesteps.
    public var timesteps: [Int]
    public var conditioning: Conditioning

    public init(latents: Tensor, noise: Tensor, offsetNoise: Tensor? = nil, timesteps: [Int], conditioning: Conditioning) {
        precondition(latents.rank == 4 && noise.shape == latents.shape, "latents \(latents.shape) and noise \(noise.shape) must both be [N, H, W, C]")
        precondition(timesteps.count == latents.shape[0], "\(timesteps.count) timesteps for \(latents.shape[0]) latents")
        if let offsetNoise {
            precondition(offsetNoise.shape == [latents.shape[0], latents.shape[3]], "offset noise \(offsetNoise.shape), expected [N, C]")
        }
        self.latents = latents; self.noise = noise; self.offsetNoise = offsetNoise
        self.timesteps = timesteps; self.conditioning = conditioning
    }

    public var count: Int { latents.shape[0] }
}
