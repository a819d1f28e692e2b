// The autoencoder's pretraining loss: reconstruction (L1, sharp on flat colours) plus a
// small KL term toward N(0, 1) that keeps the latents bounded. The sample uses the
// reparameterisation z = mean + exp(logvar / 2) · ε, differentiable in both mean and logvar
// (LatentDistribution.sample is for inference and passes no gradient to logvar).

import Diffusion
import TensorEngine
#if canImport(Glibc)
import Glibc
#endif

/// mean + exp(logvar / 2) · noise, with gradients to mean and logvar.
func reparameterisedSample(mean: Tensor, logvar: Tensor, noise: Tensor) -> Tensor {
    precondition(mean.shape == logvar.shape && mean.shape == noise.shape, "sample: \(mean.shape), \(logvar.shape), \(noise.shape)")
    let n = mean.count
    let std = [Float](unsafeUninitializedCapacity: n) { b, c in
        for i in 0..<n { b[i] = expf(0.5 * logvar.data[i]) }; c = n
    }
    let z = Tensor(uninitializedShape: mean.shape)
    for i in 0..<n { z.data[i] = mean.data[i] + std[i] * noise.data[i] }
    return z.recorded("reparameterisedSample", inputs: [mean, logvar]) { ctx in
        let g = ctx.gradOutput
        var dLogvar: Tensor?
        if ctx.needsGrad(1) {
            let d = Tensor(uninitializedShape: logvar.shape)
            for i in 0..<n { d.data[i] = g.data[i] * noise.data[i] * 0.5 * std[i] }
            dLogvar = d
        }
        return [ctx.needsGrad(0) ? g.copy() : nil, dLogvar]
    }
}

/// KL(N(mean, exp(logvar)) ‖ N(0, 1)), averaged over every latent element:
/// mean of ½ (mean² + exp(logvar) − 1 − logvar).
func klDivergence(mean: Tensor, logvar: Tensor) -> Tensor {
    let n = mean.count
    var total = 0.0
    for i in 0..<n {
        let (m, l) = (mean.data[i], logvar.data[i])
        total += Double(0.5 * (m * m + expf(l) - 1 - l))
    }
    let y = Tensor(scalar: Float(total / Double(n)))
    return y.recorded("klDivergence", inputs: [mean, logvar]) { ctx in
        let g = ctx.gradOutput.item / Float(n)
        var dm: Tensor?, dl: Tensor?
        if ctx.needsGrad(0) {
            let d = Tensor(uninitializedShape: mean.shape)
            for i in 0..<n { d.data[i] = g * mean.data[i] }
            dm = d
        }
        if ctx.needsGrad(1) {
            let d = Tensor(uninitializedShape: logvar.shape)
            for i in 0..<n { d.data[i] = g * 0.5 * (expf(logvar.data[i]) - 1) }
            dl = d
        }
        return [dm, dl]
    }
}

/// mean |prediction − target| (PyTorch's F.l1_loss); the gradient at 0 is 0, as sign(0).
func l1Loss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    precondition(prediction.shape == target.shape, "l1Loss: \(prediction.shape) vs \(target.shape)")
    let n = prediction.count
    var total = 0.0
    for i in 0..<n { total += Double(abs(prediction.data[i] - target.data[i])) }
    let y = Tensor(scalar: Float(total / Double(max(1, n))))
    return y.recorded("l1Loss", inputs: [prediction, target]) { ctx in
        let g = ctx.gradOutput.item / Float(max(1, n))
        let d = Tensor(uninitializedShape: prediction.shape)
        for i in 0..<n {
            let diff = prediction.data[i] - target.data[i]
            d.data[i] = diff > 0 ? g : (diff < 0 ? -g : 0)
        }
        var dt: Tensor?
        if ctx.needsGrad(1) {
            let t = Tensor(uninitializedShape: target.shape)
            for i in 0..<n { t.data[i] = -d.data[i] }
            dt = t
        }
        return [ctx.needsGrad(0) ? d : nil, dt]
    }
}

/// The parts of one VAE step's loss.
public struct VAELossParts: Sendable, Equatable, Codable {
    public var reconstruction: Float
    public var kl: Float
    public var total: Float
}

/// L1(decode(sample(encode(images))), images) + klWeight · KL, and its parts.
func vaeLoss(_ vae: AutoencoderKL, images: Tensor, noise: Tensor, klWeight: Float) -> (Tensor, VAELossParts) {
    let posterior = vae.encode(images)
    let z = reparameterisedSample(mean: posterior.mean, logvar: posterior.logvar, noise: noise)
    let reconstruction = l1Loss(vae.decode(z), images)
    let kl = klDivergence(mean: posterior.mean, logvar: posterior.logvar)
    let total = reconstruction + kl * klWeight
    return (total, VAELossParts(reconstruction: reconstruction.item, kl: kl.item, total: total.item))
}
