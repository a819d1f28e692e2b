import TensorEngine

extension LoRAPair {
    /// ΔW = multiplier · (alpha / r) · up · down, shaped like the adapted weight ([out, in] or
    /// [out, in, kh, kw]): what merging this pair into the base weight adds.
    public func delta(multiplier: Float = 1) -> (shape: [Int], values: [Float]) {
        let out = outFeatures, cols = inFeatures, r = rank
        var values = [Float](repeating: 0, count: out * cols)
        up.withUnsafeBufferPointer { u in
            down.withUnsafeBufferPointer { d in
                values.withUnsafeMutableBufferPointer { c in
                    gemm(m: out, n: cols, k: r, alpha: multiplier * scale,
                         a: u.baseAddress!, lda: r, b: d.baseAddress!, ldb: cols, c: c.baseAddress!, ldc: cols)
                }
            }
        }
        return (weightShape, values)
    }
}

extension LoRAAdapter {
    /// ΔW for one module, or nil when the adapter does not touch it.
    public func delta(for module: LoRAModule, multiplier: Float = 1) -> (shape: [Int], values: [Float])? {
        pairs[module]?.delta(multiplier: multiplier)
    }

    /// Several LoRAs, each at its own weight, as one LoRA whose ΔW is exactly the weighted sum of
    /// theirs: the ranks are concatenated (down stacked on rows, up on columns) and each part's
    /// weight · alpha/r folded into its up columns, so the merged pair has alpha = rank (scale 1).
    /// Metadata is not merged: the result carries none, the caller describes the merge.
    public static func merging(_ parts: [(adapter: LoRAAdapter, weight: Float)]) throws -> LoRAAdapter {
        var grouped: [LoRAModule: [(pair: LoRAPair, weight: Float)]] = [:]
        for (adapter, weight) in parts {
            for (module, pair) in adapter.pairs { grouped[module, default: []].append((pair, weight)) }
        }
        var merged: [LoRAModule: LoRAPair] = [:]
        for (module, group) in grouped {
            let first = group[0].pair
            for (pair, _) in group.dropFirst() where pair.weightShape != first.weightShape {
                throw AdapterError.cannotWrite(reason: "\(module): cannot merge LoRAs adapting weights of shape \(first.weightShape) and \(pair.weightShape): they were made for different models")
            }
            let out = first.outFeatures
            // Trailing dims of up beyond [out, r] are 1×1 for convolutions; they stay 1×1.
            let upTail = Array(first.upShape.dropFirst(2))
            let totalRank = group.reduce(0) { $0 + $1.pair.rank }
            var down: [Float] = []
            down.reserveCapacity(totalRank * first.inFeatures)
            var up = [Float](repeating: 0, count: out * totalRank)
            var column = 0
            for (pair, weight) in group {
                down += pair.down
                let factor = weight * pair.scale
                for o in 0..<out {
                    for j in 0..<pair.rank { up[o * totalRank + column + j] = factor * pair.up[o * pair.rank + j] }
                }
                column += pair.rank
            }
            merged[module] = LoRAPair(downShape: [totalRank] + Array(first.downShape.dropFirst()), down: down,
                                      upShape: [out, totalRank] + upTail, up: up, alpha: Float(totalRank))
        }
        return LoRAAdapter(pairs: merged)
    }
}
