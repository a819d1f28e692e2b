import TensorEngine

/// Which generator a seed feeds.
public enum RandomSourceKind: String, Sendable, CaseIterable {
    /// PyTorch's CPU generator, bit for bit: the same seed gives diffusers' image.
    case torch
    /// dropbooth's own counter-based generator (faster; seeds mean nothing elsewhere).
    case native
}

/// The stream of standard-normal draws of one sampling run: the initial latents, then one draw
/// per ancestral step, from one generator seeded once, as diffusers' pipeline uses its
/// `generator`. Draws come back NHWC whatever order the generator fills in.
struct SamplingNoise {
    private var torchGenerator: TorchGenerator?
    private var native: PhiloxRandom?

    /// `boxMuller`: the float math of torch's normal fill to match (what torch picks on this
    /// CPU unless told; fixtures made elsewhere name theirs).
    init(kind: RandomSourceKind, seed: UInt64, boxMuller: TorchGenerator.BoxMullerKernel = .pytorchChoiceOnThisMachine) {
        switch kind {
        case .torch: torchGenerator = TorchGenerator(seed: seed, boxMuller: boxMuller)
        case .native: native = PhiloxRandom(seed: seed)
        }
    }

    /// One latent-shaped draw, [1, h, w, c] in NHWC order.
    mutating func next(channels c: Int, height h: Int, width w: Int) -> [Float] {
        if torchGenerator != nil {
            // torch.randn((1, c, h, w)) fills NCHW.
            let nchw = torchGenerator!.randn(shape: [1, c, h, w])
            return LatentLayout.nhwc(fromNCHW: nchw, batch: 1, channels: c, height: h, width: w)
        }
        return native!.normal(shape: [1, h, w, c]).scalars
    }
}
