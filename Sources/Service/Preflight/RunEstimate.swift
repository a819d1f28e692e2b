import Foundation

/// A rough forecast of a training run's wall time and peak memory, shown to the user before
/// the night is spent. It is an order-of-magnitude guide, not a promise: real speed depends on
/// the BLAS, the memory bandwidth, attention cost growing faster than pixels, and what else the
/// machine does. The formula is written out in `formula` so that the report can show it.
///
///   unetForward   = 0.8 TFLOP × (latent side / 64)² × unetWork   (SD 1.x UNet, 64×64 latent at 512;
///                   latent side = resolution / the VAE's downscale: 8 for SD's VAE)
///   vaeEncode     = 0.55 TFLOP × (resolution / 512)² × vaeWork   (once per image: latents are cached)
///   vaeDecode     = 1.25 TFLOP × (resolution / 512)² × vaeWork   (once per sample image)
///   unetWork, vaeWork = Σ width² / 4^level over the network's levels, relative to SD 1.x's
///                   (a level of width w does ∝ w² per pixel, on a quarter of the pixels of the
///                   level above it); 1 for SD 1.x
///   passes        = 3 with weight gradients (2.5 for textual inversion), × 4/3 with gradient
///                   checkpointing (the forward runs twice)
///   imagesPerStep = batch × (2 with prior preservation, else 1)
///   training      = steps × imagesPerStep × passes × unetForward + images × vaeEncode
///   sampling      = samples × (sampleSteps × 2 × unetForward + vaeDecode)   (2: guidance)
///   seconds       = (training + sampling) / (GFLOP/s × 1e9)
///                   + 0.8 ms × (steps × imagesPerStep × passes + samples × sampleSteps × 2)
///
/// The last term is what small networks cost beyond their FLOPs: at 32 px (8×8 latent) the
/// default model's training step does 0.26 GFLOP per image, 1.3 ms at 200 GFLOP/s, but takes
/// 3.75 ms per image (`bench job --no-torch`: 4 ms at batch 1; the demo: 15 ms at batch 4):
/// kernel calls on tiny tensors, not arithmetic. At SD 1.x's 512 px it is a few ms of 10 s.
///
///   weights       = 4 bytes × (unet + text encoder + vae parameters)
///   optimizer     = 12 bytes × trained parameters (gradient + two AdamW moments) — the UNet
///                   for DreamBooth, plus the text encoder when it is trained; ~0 for LoRA/TI
///   activations   = imagesPerStep × (0.5 GB with checkpointing, 1.5 GB without) × (latent side / 64)²
///                   × unetActivations (Σ width / 4^level relative to SD 1.x's); measured: the
///                   engine's live tensors in a LoRA step at 512 px peak at 492 / 1494 MiB
///                   (`bench unet`, 2026-12-07), and `bench job` with a float32 SD 1.5 at 5.6 GiB
///   peak          = weights + optimizer + activations + 128 MiB (code, caches, buffers)
public struct RunEstimate: Sendable, Codable, Equatable {
    public var seconds: Double
    public var peakMemoryBytes: Int
    /// The assumptions in words, for the report.
    public var formula: String

    /// SD 1.x's level widths: the reference of the FLOP and activation figures.
    public static let referenceUNetChannels = [320, 640, 1280, 1280]
    public static let referenceVAEChannels = [128, 256, 512, 512]
    /// Seconds one image's UNet pass costs beyond its FLOPs (see the formula).
    static let secondsPerImagePass = 0.0008

    public init(plan: TrainingPlan, resolution: Int, imageCount: Int, cores: Int) {
        let pixelsScale = Double(resolution * resolution) / (512.0 * 512.0)
        let latentSide = Double(resolution) / Double(max(1, plan.vaeDownscale))
        let latentScale = latentSide * latentSide / (64.0 * 64.0)
        let unetWork = Self.levelSum(plan.unetBlockChannels, power: 2) / Self.levelSum(Self.referenceUNetChannels, power: 2)
        let vaeWork = Self.levelSum(plan.vaeBlockChannels, power: 2) / Self.levelSum(Self.referenceVAEChannels, power: 2)
        let unetForward = 0.8e12 * latentScale * unetWork
        let vaeEncode = 0.55e12 * pixelsScale * vaeWork
        let vaeDecode = 1.25e12 * pixelsScale * vaeWork
        var passes = plan.method == .textualInversion ? 2.5 : 3.0
        if plan.gradientCheckpointing { passes *= 4.0 / 3.0 }
        let imagesPerStep = Double(max(1, plan.batchSize) * (plan.priorPreservation ? 2 : 1))
        let trainingPasses = Double(max(0, plan.steps)) * imagesPerStep * passes
        let samplingPasses = Double(max(0, plan.sampleImages)) * Double(max(0, plan.sampleSteps)) * 2
        let training = trainingPasses * unetForward + Double(imageCount) * vaeEncode
        let sampling = samplingPasses * unetForward + Double(max(0, plan.sampleImages)) * vaeDecode
        let threads = plan.threads > 0 ? plan.threads : max(1, cores)
        let gflops = plan.gflopsPerSecond > 0 ? plan.gflopsPerSecond : Double(threads) * 100
        seconds = (training + sampling) / (gflops * 1e9) + (trainingPasses + samplingPasses) * Self.secondsPerImagePass

        let parameters = plan.unetParameters + plan.textEncoderParameters + plan.vaeParameters
        let weights = 4 * parameters
        var trained = 0
        if plan.method == .dreambooth { trained += plan.unetParameters }
        if plan.trainTextEncoder && plan.method != .textualInversion { trained += plan.textEncoderParameters }
        let optimizer = 12 * trained
        let unetActivations = Self.levelSum(plan.unetBlockChannels, power: 1) / Self.levelSum(Self.referenceUNetChannels, power: 1)
        let perImageActivations = (plan.gradientCheckpointing ? 0.5e9 : 1.5e9) * latentScale * unetActivations
        let activations = Int(imagesPerStep * perImageActivations)
        peakMemoryBytes = weights + optimizer + activations + 128 << 20

        formula = """
            rough estimate: \(plan.steps) steps × \(Int(imagesPerStep)) image(s) per step at \(resolution)px, \
            \(plan.method.rawValue), \(plan.sampleImages) sample image(s) of \(plan.sampleSteps) steps, \
            assuming \(Int(gflops)) GFLOP/s sustained (\(threads) thread(s)); \
            base model of \(Self.millions(parameters)) parameters (UNet \(Self.millions(plan.unetParameters)), \
            level widths \(plan.unetBlockChannels.map(String.init).joined(separator: "/"))): \
            \(String(format: "%.3g", unetForward / 1e9)) GFLOP per UNet forward at \(resolution)px, backward ≈ 2× forward. \
            Memory: float32 weights + optimizer state + activations per image. \
            Real runs can differ by 2× either way.
            """
    }

    /// Σ width^power / 4^level over a network's levels, full resolution first.
    static func levelSum(_ widths: [Int], power: Double) -> Double {
        widths.enumerated().reduce(0) { $0 + pow(Double($1.element), power) / pow(4, Double($1.offset)) }
    }

    static func millions(_ count: Int) -> String {
        count >= 100_000_000 ? String(format: "%.0fM", Double(count) / 1e6) : String(format: "%.2gM", Double(count) / 1e6)
    }
}
