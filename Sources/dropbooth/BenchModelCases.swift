// The whole-model cases of `dropbooth bench unet` / `bench sample`, and how the engine runs one.
//
// Each case runs in a fresh process (this binary with --worker NAME, or
// scripts/bench/torch_models.py --case JSON) so that its peak resident memory is its own:
// the process high-water mark (VmHWM) includes the weights, as a user's would.

import Diffusion
import Foundation
import TensorEngine

/// One measured piece of work. `size` is the image side in pixels (latents are size/8).
struct ModelBenchCase: Codable, Sendable {
    enum Kind: String, Codable, Sendable {
        /// One UNet forward, no gradients, batch 1, context 77x768.
        case unetForward
        /// LoRA rank 4 on every attention's to_q/to_k/to_v/to_out.0, frozen UNet: forward,
        /// MSE loss, backward, AdamW update.
        case loraStep
        /// One denoising step with classifier-free guidance: UNet on batch 2 (unconditional
        /// and conditional), guidance combine, DDIM-style update.
        case guidedStep
        /// VAE decoder: latents size/8 → a size x size image.
        case vaeDecode
    }

    var name: String
    var kind: Kind
    var size: Int
    var checkpointing: Bool = false
    var loraRank: Int = 4
    var contextLength: Int = 77

    var summary: String {
        switch kind {
        case .unetForward: return "UNet forward, \(size) px, batch 1"
        case .loraStep: return "LoRA r\(loraRank) step, \(size) px, checkpointing \(checkpointing ? "on" : "off")"
        case .guidedStep: return "guided denoising step (UNet batch 2), \(size) px"
        case .vaeDecode: return "VAE decode \(size / 8)x\(size / 8) → \(size)x\(size)"
        }
    }

    /// The default list: every figure issues 3 and 4 ask for.
    static let all: [ModelBenchCase] = [
        .init(name: "unet-fwd-256", kind: .unetForward, size: 256),
        .init(name: "unet-fwd-512", kind: .unetForward, size: 512),
        .init(name: "lora-256-ckpt", kind: .loraStep, size: 256, checkpointing: true),
        .init(name: "lora-256", kind: .loraStep, size: 256),
        .init(name: "lora-512-ckpt", kind: .loraStep, size: 512, checkpointing: true),
        .init(name: "lora-512", kind: .loraStep, size: 512),
        .init(name: "guided-step-512", kind: .guidedStep, size: 512),
        .init(name: "vae-decode-512", kind: .vaeDecode, size: 512),
    ]

    /// What runs without --filter: all but the 512 px LoRA step without checkpointing (a
    /// minute or more per side on two cores; `--filter lora-512` adds it), so that the default
    /// list stays around ten minutes.
    static var defaults: [ModelBenchCase] { all.filter { $0.name != "lora-512" } }

    /// The cases `bench sample` runs.
    static var sampling: [ModelBenchCase] { all.filter { $0.kind == .guidedStep || $0.kind == .vaeDecode } }
}

/// What one side measured for one case (the JSON line a worker prints).
struct ModelBenchResult: Codable, Sendable {
    var name: String
    /// Building the model (random weights; for the engine, including the conv weight layout change).
    var setup_seconds: Double
    /// The first run: includes one-time costs (weight packing, buffer cache warm-up).
    var first_seconds: Double
    /// The best of the timed runs after it.
    var best_seconds: Double
    /// Process high-water mark (VmHWM / ru_maxrss) over the whole worker, weights included.
    var peak_rss_mib: Double
    /// Engine only: the most bytes live tensors held at once during the runs (weights included),
    /// and the weights alone.
    var engine_peak_mib: Double?
    var weights_mib: Double?
    var version: String?
}

/// Runs one case in this process, as the worker: prints nothing but the result.
struct EngineModelBench {
    var repeats: Int
    /// The random weights act as a checkpoint stored in this format (nil: float32).
    var weightsFormat: HalfTensor.Format? = nil

    func run(_ c: ModelBenchCase) throws -> ModelBenchResult {
        let setupStart = Date()
        let step = try makeStep(c)
        let setup = Date().timeIntervalSince(setupStart)
        let weightBytes = EngineMemory.liveBytes
        EngineMemory.resetPeak()
        let first = timed(step)
        var best = Double.infinity
        for _ in 0..<max(1, repeats) { best = min(best, timed(step)) }
        return ModelBenchResult(
            name: c.name, setup_seconds: setup, first_seconds: first, best_seconds: best,
            peak_rss_mib: peakResidentMiB() ?? 0,
            engine_peak_mib: Double(EngineMemory.peakBytes) / 1_048_576, weights_mib: Double(weightBytes) / 1_048_576)
    }

    private func timed(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Builds what the case needs and returns one run of its work.
    private func makeStep(_ c: ModelBenchCase) throws -> () -> Void {
        var random = PhiloxRandom(seed: 1)
        let side = c.size / 8
        switch c.kind {
        case .vaeDecode:
            let config = VAEConfig()
            let vae = try buildWithRandomWeights(vaeParameterShapes(config), storedAs: weightsFormat) { try AutoencoderKL(config: config, weights: $0) }
            let latents = random.normal(shape: [1, side, side, config.latentChannels])
            return { _ = noGrad { vae.decode(latents) } }

        case .unetForward, .guidedStep, .loraStep:
            let config = UNetConfig()
            let unet = try buildWithRandomWeights(unetParameterShapes(config), storedAs: weightsFormat) { try UNet2DConditionModel(config: config, weights: $0) }
            let batch = c.kind == .guidedStep ? 2 : 1
            let context = random.normal(shape: [batch, c.contextLength, config.crossAttentionDim])
            let latents = random.normal(shape: [batch, side, side, config.inChannels])
            let timesteps = [Float](repeating: 500, count: batch)

            if c.kind == .unetForward {
                return { _ = noGrad { unet(latents, timesteps: timesteps, context: context) } }
            }
            if c.kind == .guidedStep {
                var sample = random.normal(shape: [1, side, side, config.inChannels])
                return {
                    noGrad {
                        // Both halves see the same latents, as in a sampler.
                        let input = concatBatch(sample, sample)
                        let noise = unet(input, timesteps: timesteps, context: context)
                        let uncond = slice(noise, axis: 0, start: 0, length: 1)
                        let cond = slice(noise, axis: 0, start: 1, length: 1)
                        let guided = uncond + (cond - uncond) * 7.5
                        sample = sample * 0.98 + guided * 0.02
                    }
                }
            }
            let loraParameters = attachAttentionLoRA(unet, rank: c.loraRank, random: &random)
            unet.gradientCheckpointing = c.checkpointing
            let optimizer = AdamW(parameters: loraParameters)
            let target = random.normal(shape: latents.shape)
            return {
                let prediction = unet(latents, timesteps: timesteps, context: context)
                mseLoss(prediction, target).backward()
                optimizer.update(lr: 1e-4)
                optimizer.zeroGrad()
            }
        }
    }
}

/// LoRA as peft's LoraConfig(r, target_modules=[to_q, to_k, to_v, to_out.0]) puts it on a UNet:
/// every attention projection (self and cross), down kaiming-uniform, up zero, scale alpha/r
/// with peft's default alpha 8. Returns the trainable tensors.
func attachAttentionLoRA(_ unet: UNet2DConditionModel, rank: Int, random: inout PhiloxRandom) -> [Tensor] {
    var parameters: [Tensor] = []
    let targets = [".to_q", ".to_k", ".to_v", ".to_out.0"]
    for layer in unet.linearLayers where targets.contains(where: { layer.name.hasSuffix($0) }) {
        let bound = 1 / Float(layer.inFeatures).squareRoot()
        let down = random.uniform(shape: [rank, layer.inFeatures], low: -bound, high: bound)
        let up = Tensor(zeros: [layer.outFeatures, rank])
        down.requiresGrad = true
        up.requiresGrad = true
        layer.lora = LoRA(down: down, up: up, scale: 8 / Float(rank))
        parameters += [down, up]
    }
    return parameters
}

/// [1, ...] and [1, ...] → [2, ...] (a copy; the engine's concat is along channels).
private func concatBatch(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = Tensor(uninitializedShape: [2] + a.shape.dropFirst())
    out.data.update(from: a.data, count: a.count)
    (out.data + a.count).update(from: b.data, count: b.count)
    return out
}
