// Softmax over the last dimension, one row at a time (max-subtracted for range).

#if canImport(Glibc)
import Glibc
#endif

/// The largest of p[0..<d] (d ≥ 1): eight lanes over whole vectors, then the tail.
@inline(__always) private func rowMax(_ p: UnsafePointer<Float>, _ d: Int) -> Float {
    var best = p[0]
    var j = 0
    if d >= 8 {
        var m = loadVec(p, 0, d)
        j = 8
        // m + relu(v − m) is max(m, v) up to the last bit: a shift near the maximum is all
        // the softmax needs (it cancels out), and this stays in vector registers.
        while j + 8 <= d { m = m + vrelu(loadVec(p, j, d) - m); j += 8 }
        for k in 0..<8 { best = max(best, m[k]) }
    }
    while j < d { best = max(best, p[j]); j += 1 }
    return best
}

func softmaxForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    guard d > 0 else { return }
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { range in
        for row in range {
            let p = x + row * d, q = y + row * d
            let mx = rowMax(p, d)
            var sum = Vec8()
            for j in stride(from: 0, to: d, by: 8) {
                var e = vexp(loadVec(p, j, d) - mx)
                if j + 8 > d { for k in (d - j)..<8 { e[k] = 0 } }   // padding lanes add nothing
                storeVec(e, q, j, d)
                sum += e
            }
            let inv = 1 / sum.sum()
            for j in stride(from: 0, to: d, by: 8) { storeVec(loadVec(q, j, d) * inv, q, j, d) }
        }
    }
}

/// dx = y · (dy − Σ dy·y), per row.
func softmaxBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { range in
        for row in range {
            let p = y + row * d, g = dy + row * d, q = dx + row * d
            // Padding lanes load zeros on both sides: they add nothing to the dot product.
            var acc = Vec8()
            for j in stride(from: 0, to: d, by: 8) { acc = mulAdd(loadVec(g, j, d), loadVec(p, j, d), acc) }
            let dot = acc.sum()
            for j in stride(from: 0, to: d, by: 8) {
                storeVec(loadVec(p, j, d) * (loadVec(g, j, d) - dot), q, j, d)
            }
        }
    }
}
