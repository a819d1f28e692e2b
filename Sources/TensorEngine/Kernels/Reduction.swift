// Sums for losses: mean, MSE and the per-sample weighted MSE of min-SNR training.
// Partial sums per part in Double, added in part order: deterministic and close to
// PyTorch's pairwise float sums.

/// Σ x[i] in Double.
func sumKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    let parts = partitionCount(n, minimumPerThread: 1 << 15)
    var partials = [Double](repeating: 0, count: parts)
    partials.withUnsafeMutableBufferPointer { buf in
        let out = buf.baseAddress!
        parallelPartitions(n, parts: parts) { part, r in
            var s = 0.0
            for i in r { s += Double(x[i]) }
            out[part] = s
        }
    }
    return partials.reduce(0, +)
}

/// Σ (a[i] − b[i])² in Double.
func squaredErrorSum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    let parts = partitionCount(n, minimumPerThread: 1 << 15)
    var partials = [Double](repeating: 0, count: parts)
    partials.withUnsafeMutableBufferPointer { buf in
        let out = buf.baseAddress!
        parallelPartitions(n, parts: parts) { part, r in
            var s = 0.0
            for i in r { let d = Double(a[i] - b[i]); s += d * d }
            out[part] = s
        }
    }
    return partials.reduce(0, +)
}

/// da[i] = scale[i / perSample] · (a[i] − b[i]), the MSE gradient with the 2/n (and weight)
/// folded into `scale` per sample.
func squaredErrorBackward(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ da: UnsafeMutablePointer<Float>,
                          n: Int, perSample: Int, scale: UnsafePointer<Float>) {
    parallelChunks(n, minimumPerThread: 1 << 15) { r in
        for i in r { da[i] = scale[i / perSample] * (a[i] - b[i]) }
    }
}

/// Σ x[i]² in Double.
func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    let parts = partitionCount(n, minimumPerThread: 1 << 15)
    var partials = [Double](repeating: 0, count: parts)
    partials.withUnsafeMutableBufferPointer { buf in
        let out = buf.baseAddress!
        parallelPartitions(n, parts: parts) { part, r in
            var s = 0.0
            for i in r { let d = Double(x[i]); s += d * d }
            out[part] = s
        }
    }
    return partials.reduce(0, +)
}
