// Stage 1 of the default model: the autoencoder alone, on world images, until its
// reconstructions are good. Loss: L1 reconstruction + klWeight · KL (VAELoss.swift); AdamW
// with linear warm-up then a constant rate; gradients clipped to norm 1.
//
// Stage 3 uses the same loop with the encoder frozen (`decoderOnly`): the decoder keeps
// learning to draw sharper images while the latents — which the UNet of stage 2 was trained
// on — stay exactly as they were (how Stable Diffusion's ft-EMA/ft-MSE decoders were made).

import Diffusion
import Foundation
import Imaging
import TensorEngine

public struct VAEPretrainingOptions: Sendable, Codable, Equatable {
    public var batchSize = 16
    public var learningRate: Float = 5e-4
    public var warmupSteps = 100
    public var klWeight: Float = 1e-4
    public var maxGradNorm: Float = 1
    public var seed: UInt64 = 0
    public init() {}
}

public struct VAEPretrainingState: Codable, Sendable {
    public var step: Int
    public var options: VAEPretrainingOptions
    public init(step: Int, options: VAEPretrainingOptions) { self.step = step; self.options = options }
}

public final class VAEPretraining {
    public let vae: AutoencoderKL
    public let options: VAEPretrainingOptions
    public let names: [String]
    public let optimizer: AdamW

    public init(vae: AutoencoderKL, options: VAEPretrainingOptions, decoderOnly: Bool = false) throws {
        self.vae = vae; self.options = options
        var parameters = try FullFineTune.parameters(of: vae)
        if decoderOnly {
            for p in parameters where !Self.isDecoderParameter(p.name) { p.tensor.requiresGrad = false }
            parameters = parameters.filter { Self.isDecoderParameter($0.name) }
        }
        names = parameters.map(\.name)
        optimizer = AdamW(parameters: parameters.map(\.tensor), hyperparameters: .init(weightDecay: 1e-2))
    }

    public var step: Int { optimizer.step }

    /// The decoder side of the autoencoder: what stage 3 trains (diffusers' names).
    public static func isDecoderParameter(_ name: String) -> Bool {
        name.hasPrefix("decoder.") || name.hasPrefix("post_quant_conv.")
    }

    /// One optimiser step on `images` [N, S, S, 3] in [-1, 1]; the sampling noise comes from the
    /// step number, so a resumed run repeats it exactly.
    public func train(images: Tensor) -> VAELossParts {
        var rng = PhiloxRandom(seed: options.seed &+ 0x5EED &+ UInt64(optimizer.step) &* 7919)
        let f = vae.config.downscale
        let noise = rng.normal(shape: [images.shape[0], images.shape[1] / f, images.shape[2] / f, vae.config.latentChannels])
        let (loss, parts) = vaeLoss(vae, images: images, noise: noise, klWeight: options.klWeight)
        loss.backward()
        clipGradientNorm(optimizer.parameters, maxNorm: options.maxGradNorm)
        let lr = LearningRateSchedule.constantWithWarmup.learningRate(base: options.learningRate, step: optimizer.step,
                                                                       warmupSteps: options.warmupSteps, totalSteps: 0)
        noGrad { optimizer.update(lr: lr) }
        optimizer.zeroGrad()
        return parts
    }

    /// Decoded means, no gradient: what the autoencoder makes of `images`.
    public func reconstruct(_ images: Tensor) -> Tensor {
        noGrad { vae.decode(vae.encode(images).mean) }
    }
}

/// The scaling factor that gives the UNet unit-variance latents: 1 / std of the encoder's
/// means over `images` (what Stable Diffusion's 0.18215 was measured as).
public func measuredScalingFactor(_ vae: AutoencoderKL, images: Tensor) -> Float {
    let means = noGrad { vae.encode(images).mean }.scalars
    let mean = means.reduce(0, +) / Float(means.count)
    let variance = means.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(means.count)
    return 1 / max(variance.squareRoot(), 1e-6)
}

/// Images [N, S, S, 3] in [-1, 1] as RGB images.
public func rgbImages(_ t: Tensor) -> [RGBImage] {
    let (n, h, w) = (t.shape[0], t.shape[1], t.shape[2])
    let values = t.scalars
    return (0..<n).map { i in RGBImage(floatNHWC: Array(values[(i * h * w * 3)..<((i + 1) * h * w * 3)]), width: w, height: h) }
}

/// A grid PNG: rows of images, captions optional, tiles enlarged to `tile` pixels.
public func writeGrid(_ rows: [[RGBImage]], captions: [String] = [], rowLabels: [String] = [], tile: Int = 96, to path: String) throws {
    guard let columns = rows.map(\.count).max(), columns > 0 else { return }
    let enlarged = rows.map { $0.map { enlarge($0, to: tile) } }
    var grid = ImageGrid(tileWidth: tile, tileHeight: tile, columns: columns)
    grid.captionLines = 4
    grid.fontSize = 10
    grid.rowLabels = rowLabels
    grid.rowLabelWidth = 70
    var tiles: [ImageGrid.Tile?] = []
    for (r, row) in enlarged.enumerated() {
        for (c, image) in row.enumerated() {
            let k = r * columns + c
            tiles.append(ImageGrid.Tile(image: image, caption: k < captions.count ? captions[k] : ""))
        }
        for _ in row.count..<columns { tiles.append(nil) }
    }
    let sheet = try grid.render(tiles)
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(ImageEncoder.png(sheet)).write(to: URL(fileURLWithPath: path))
}

/// Nearest-neighbour enlargement to `side` (keeps the pixels visible, as they are).
func enlarge(_ image: RGBImage, to side: Int) -> RGBImage {
    guard image.width != side || image.height != side else { return image }
    var out = RGBImage(width: side, height: side)
    for y in 0..<side {
        for x in 0..<side { out[x, y] = image[x * image.width / side, y * image.height / side] }
    }
    return out
}
