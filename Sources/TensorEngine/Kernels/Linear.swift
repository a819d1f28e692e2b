// Linear layers as GEMMs over rows: x [m, in], W [out, in] (PyTorch's layout), y [m, out].
//   forward   y  = x · Wᵀ + b
//   backward  dx = dy · W,  dW = dyᵀ · x,  db = Σ_rows dy
// LoRA adds scale · (x · Aᵀ) · Bᵀ with A [r, in], B [out, r]; with h = x · Aᵀ saved:
//   dB = scale · dyᵀ · h,  dh = scale · dy · B,  dA = dhᵀ · x,  dx += dh · A

/// y[m, out] += b[out] on every row.
func addBiasRows(_ y: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, rows: Int, cols: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 16384 / max(1, cols))) { r in
        for row in r {
            let p = y + row * cols
            for j in 0..<cols { p[j] += b[j] }
        }
    }
}

/// db[cols] = Σ_rows dy[rows, cols], with per-part scratch.
func sumRows(_ dy: UnsafePointer<Float>, rows: Int, cols: Int, _ db: UnsafeMutablePointer<Float>) {
    let parts = partitionCount(rows, minimumPerThread: max(1, 16384 / max(1, cols)))
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: parts * cols)
    defer { scratch.deallocate() }
    scratch.initialize(repeating: 0, count: parts * cols)
    parallelPartitions(rows, parts: parts) { part, r in
        let acc = scratch + part * cols
        for row in r {
            let p = dy + row * cols
            for j in 0..<cols { acc[j] += p[j] }
        }
    }
    for j in 0..<cols {
        var s: Float = 0
        for p in 0..<parts { s += scratch[p * cols + j] }
        db[j] = s
    }
}

/// y = scale · x over n floats (scale may alias: y == x is fine).
func scaleKernel(_ x: UnsafePointer<Float>, _ scale: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    parallelChunks(n, minimumPerThread: 1 << 15) { r in
        for i in r { y[i] = scale * x[i] }
    }
}
