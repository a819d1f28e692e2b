// Softmax over the last dimension, one row at a time (max-subtracted for range).

#if canImport(Glibc)
import Glibc
#endif

func softmaxForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { range in
        for row in range {
            let p = x + row * d, q = y + row * d
            var mx = -Float.infinity
            for j in 0..<d { mx = max(mx, p[j]) }
            var sum = Vec8()
            for j in stride(from: 0, to: d, by: 8) {
                var e = vexp(loadVec(p, j, d) - mx)
                if j + 8 > d { for k in (d - j)..<8 { e[k] = 0 } }   // padding lanes add nothing
                storeVec(e, q, j, d)
                sum += e
            }
            let inv = 1 / sum.sum()
            for j in 0..<d { q[j] *= inv }
        }
    }
}

/// dx = y · (dy − Σ dy·y), per row.
func softmaxBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { range in
        for row in range {
            let p = y + row * d, g = dy + row * d, q = dx + row * d
            var dot: Float = 0
            for j in 0..<d { dot += g[j] * p[j] }
            for j in 0..<d { q[j] = p[j] * (g[j] - dot) }
        }
    }
}
