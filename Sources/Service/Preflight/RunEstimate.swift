/// A rough forecast of a training run's wall time and peak memory, shown to the user before
/// the night is spent. It is an order-of-magnitude guide, not a promise: real speed depends on
/// the BLAS, the memory bandwidth, attention cost growing faster than pixels, and what else the
/// machine does. The formula is written out in `formula` so that the report can show it.
///
///   unetForward   = 0.8 TFLOP × (resolution / 512)²      (SD 1.x UNet, 64×64 latent at 512)
///   vaeEncode     = 0.55 TFLOP × (resolution / 512)²     (once per image: latents are cached)
///   vaeDecode     = 1.25 TFLOP × (resolution / 512)²     (once per sample image)
///   perImageStep  = unetForward × (3 with weight gradients, 2.5 for textual inversion)
///                   × (4/3 with gradient checkpointing: the forward runs twice)
///   imagesPerStep = batch × (2 with prior preservation, else 1)
///   training      = steps × imagesPerStep × perImageStep + images × vaeEncode
///   sampling      = samples × (sampleSteps × 2 × unetForward + vaeDecode)   (2: guidance)
///   seconds       = (training + sampling) / (GFLOP/s × 1e9)
///
///   weights       = 4 bytes × (unet + text encoder + vae parameters)
///   optimizer     = 12 bytes × trained parameters (gradient + two AdamW moments) — the UNet
///                   for DreamBooth, plus the text encoder when it is trained; ~0 for LoRA/TI
///   activations   = imagesPerStep × (1.2 GB with checkpointing, 5 GB without) × (resolution/512)²
///   peak          = weights + optimizer + activations + 0.5 GB (code, caches, buffers)
public struct RunEstimate: Sendable, Codable, Equatable {
    public var seconds: Double
    public var peakMemoryBytes: Int
    /// The assumptions in words, for the report.
    public var formula: String

    public init(plan: TrainingPlan, resolution: Int, imageCount: Int, cores: Int) {
        let pixelsScale = Double(resolution * resolution) / (512.0 * 512.0)
        let unetForward = 0.8e12 * pixelsScale
        let vaeEncode = 0.55e12 * pixelsScale
        let vaeDecode = 1.25e12 * pixelsScale
        var perImageStep = unetForward * (plan.method == .textualInversion ? 2.5 : 3.0)
        if plan.gradientCheckpointing { perImageStep *= 4.0 / 3.0 }
        let imagesPerStep = Double(max(1, plan.batchSize) * (plan.priorPreservation ? 2 : 1))
        let training = Double(max(0, plan.steps)) * imagesPerStep * perImageStep + Double(imageCount) * vaeEncode
        let sampling = Double(max(0, plan.sampleImages)) * (Double(max(0, plan.sampleSteps)) * 2 * unetForward + vaeDecode)
        let threads = plan.threads > 0 ? plan.threads : max(1, cores)
        let gflops = plan.gflopsPerSecond > 0 ? plan.gflopsPerSecond : Double(threads) * 100
        seconds = (training + sampling) / (gflops * 1e9)

        let weights = 4 * (plan.unetParameters + plan.textEncoderParameters + plan.vaeParameters)
        var trained = 0
        if plan.method == .dreambooth { trained += plan.unetParameters }
        if plan.trainTextEncoder && plan.method != .textualInversion { trained += plan.textEncoderParameters }
        let optimizer = 12 * trained
        let perImageActivations = (plan.gradientCheckpointing ? 1.2e9 : 5e9) * pixelsScale
        let activations = Int(imagesPerStep * perImageActivations)
        peakMemoryBytes = weights + optimizer + activations + 512 << 20

        formula = """
            rough estimate: \(plan.steps) steps × \(Int(imagesPerStep)) image(s) per step at \(resolution)px, \
            \(plan.method.rawValue), \(plan.sampleImages) sample image(s) of \(plan.sampleSteps) steps, \
            assuming \(Int(gflops)) GFLOP/s sustained (\(threads) thread(s)); \
            SD 1.x UNet ≈ 0.8 TFLOP per forward at 512px, backward ≈ 2× forward. \
            Memory: float32 weights + optimizer state + activations per image. \
            Real runs can differ by 2× either way.
            """
    }
}
