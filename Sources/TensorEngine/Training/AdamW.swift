// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias correction), and
// gradient clipping by global norm as torch.nn.utils.clip_grad_norm_.

#if canImport(Glibc)
import Glibc
#endif

public final class AdamW {
    public struct Hyperparameters: Sendable, Codable, Equatable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var eps: Float = 1e-8
        public var weightDecay: Float = 1e-2
        public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 1e-2) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }
    }

    public let parameters: [Tensor]
    public var hyperparameters: Hyperparameters
    /// Steps taken so far (bias correction uses it); saved and restored with the moments.
    public private(set) var step = 0
    /// First and second moments, one per parameter, same shapes.
    public private(set) var firstMoments: [Tensor]
    public private(set) var secondMoments: [Tensor]

    public init(parameters: [Tensor], hyperparameters: Hyperparameters = .init()) {
        for p in parameters { precondition(p.storage.isWritable, "AdamW: a parameter of shape \(p.shape) is read-only (memory-mapped); copy it first") }
        self.parameters = parameters
        self.hyperparameters = hyperparameters
        firstMoments = parameters.map { Tensor(zeros: $0.shape) }
        secondMoments = parameters.map { Tensor(zeros: $0.shape) }
    }

    /// Restores the state saved from `step`, `firstMoments`, `secondMoments` (for resume).
    public func restore(step: Int, firstMoments m: [[Float]], secondMoments v: [[Float]]) {
        precondition(m.count == parameters.count && v.count == parameters.count, "AdamW state for \(m.count) parameters, have \(parameters.count)")
        for i in parameters.indices {
            precondition(m[i].count == parameters[i].count && v[i].count == parameters[i].count, "AdamW state size mismatch for parameter \(i)")
            m[i].withUnsafeBufferPointer { firstMoments[i].data.update(from: $0.baseAddress!, count: $0.count) }
            v[i].withUnsafeBufferPointer { secondMoments[i].data.update(from: $0.baseAddress!, count: $0.count) }
        }
        self.step = step
    }

    /// One update with learning rate `lr`. Parameters without a gradient are skipped (as in
    /// PyTorch), but the step count advances once per call.
    public func update(lr: Float) {
        step += 1
        let h = hyperparameters
        let biasCorrection1 = 1 - powf(h.beta1, Float(step))
        let biasCorrection2Sqrt = sqrtf(1 - powf(h.beta2, Float(step)))
        let stepSize = lr / biasCorrection1
        let decay = 1 - lr * h.weightDecay
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            adamWKernel(p.data, g.data, firstMoments[i].data, secondMoments[i].data, p.count,
                        decay: decay, beta1: h.beta1, beta2: h.beta2, eps: h.eps,
                        stepSize: stepSize, biasCorrection2Sqrt: biasCorrection2Sqrt)
        }
    }

    /// Drops every parameter's gradient (the next backward starts from nothing).
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}

/// One AdamW step over n values, in torch's order of operations:
///   p ← p · (1 − lr·wd);  m ← m + (1−β1)(g − m);  v ← β2·v + (1−β2)·g²
///   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
func adamWKernel(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                 _ n: Int, decay: Float, beta1: Float, beta2: Float, eps: Float, stepSize: Float, biasCorrection2Sqrt: Float) {
    parallelChunks(n, minimumPerThread: 1 << 14) { r in
        for i in r {
            p[i] *= decay
            m[i] += (1 - beta1) * (g[i] - m[i])
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            let denom = v[i].squareRoot() / biasCorrection2Sqrt + eps
            p[i] -= stepSize * (m[i] / denom)
        }
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`, as
/// clip_grad_norm_: coefficient = min(1, maxNorm / (norm + 1e-6)). Returns the norm before
/// clipping. Parameters without a gradient are ignored.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    let grads = parameters.compactMap(\.grad)
    var total = 0.0
    for g in grads {
        // Each tensor's norm first, then the norm of the norms (PyTorch's order).
        let sq = sumOfSquares(g.data, g.count)
        let norm = Float(sq.squareRoot())
        total += Double(norm) * Double(norm)
    }
    let norm = Float(total.squareRoot())
    let coefficient = min(1, maxNorm / (norm + 1e-6))
    for g in grads { scaleKernel(g.data, coefficient, g.data, g.count) }
    return norm
}
