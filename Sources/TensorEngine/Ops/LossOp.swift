// Scalar reductions used as losses: mean, MSE, and MSE weighted per sample (min-SNR).

/// The mean of all elements, as a scalar tensor of shape [].
public func mean(_ x: Tensor) -> Tensor {
    let y = Tensor(scalar: Float(sumKernel(x.data, x.count) / Double(max(1, x.count))))
    let shape = x.shape, n = x.count
    return y.recorded("mean", inputs: [x]) { ctx in
        [Tensor(repeating: ctx.gradOutput.item / Float(max(1, n)), shape: shape)]
    }
}

/// mean((prediction − target)²), PyTorch's F.mse_loss with reduction="mean".
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    precondition(prediction.shape == target.shape, "mseLoss: prediction \(prediction.shape) and target \(target.shape) differ")
    let n = prediction.count
    return weightedSquaredError(prediction, target, sampleWeights: [Float](repeating: 1, count: 1), perSample: n, name: "mseLoss")
}

/// Min-SNR weighting as the diffusers training scripts do it: the squared error averaged
/// within each sample (first dimension), times that sample's weight, averaged over samples.
/// The weights are constants (no gradient).
public func weightedMSELoss(_ prediction: Tensor, _ target: Tensor, sampleWeights: [Float]) -> Tensor {
    precondition(prediction.shape == target.shape, "weightedMSELoss: prediction \(prediction.shape) and target \(target.shape) differ")
    let n = prediction.shape.first ?? 1
    precondition(sampleWeights.count == n, "weightedMSELoss: \(sampleWeights.count) weights for \(n) samples")
    return weightedSquaredError(prediction, target, sampleWeights: sampleWeights, perSample: prediction.count / max(1, n), name: "weightedMSELoss")
}

/// loss = (1/S) Σ_s w_s · mean over sample s of (p − t)²; one kernel for both losses.
private func weightedSquaredError(_ p: Tensor, _ t: Tensor, sampleWeights w: [Float], perSample: Int, name: String) -> Tensor {
    let samples = w.count
    var total = 0.0
    for s in 0..<samples {
        let sq = squaredErrorSum(p.data + s * perSample, t.data + s * perSample, perSample)
        total += Double(w[s]) * sq / Double(max(1, perSample))
    }
    let y = Tensor(scalar: Float(total / Double(samples)))
    return y.recorded(name, inputs: [p, t]) { ctx in
        // d/dp = g · w_s · 2 (p − t) / (perSample · samples); d/dt is its negative.
        let g = ctx.gradOutput.item
        let scale = w.map { g * $0 * 2 / Float(perSample * samples) }
        let dp = Tensor(uninitializedShape: p.shape)
        scale.withUnsafeBufferPointer { squaredErrorBackward(p.data, t.data, dp.data, n: p.count, perSample: perSample, scale: $0.baseAddress!) }
        var dt: Tensor? = nil
        if ctx.needsGrad(1) {
            let tt = Tensor(uninitializedShape: t.shape)
            scaleKernel(dp.data, -1, tt.data, t.count)
            dt = tt
        }
        return [ctx.needsGrad(0) ? dp : nil, dt]
    }
}
