// Embedding lookup and the sinusoidal timestep embedding.

#if canImport(Glibc)
import Glibc
#endif

/// out row i = table row ids[i], for every i with ids[i] ≥ 0 (negative ids: rows left alone,
/// so two tables can fill one output).
func embeddingForward(_ table: UnsafePointer<Float>, ids: [Int], d: Int, _ out: UnsafeMutablePointer<Float>) {
    ids.withUnsafeBufferPointer { idp in
        let ids = idp.baseAddress!
        parallelChunks(idp.count, minimumPerThread: max(1, 16384 / max(1, d))) { r in
            for i in r where ids[i] >= 0 { (out + i * d).update(from: table + ids[i] * d, count: d) }
        }
    }
}

/// dtable[ids[i]] += dy[i] for ids[i] ≥ 0: only used rows are touched. Serial: ids may repeat.
func embeddingBackward(_ dy: UnsafePointer<Float>, ids: [Int], d: Int, _ dtable: UnsafeMutablePointer<Float>) {
    for (i, id) in ids.enumerated() where id >= 0 {
        let src = dy + i * d, dst = dtable + id * d
        for j in 0..<d { dst[j] += src[j] }
    }
}

/// diffusers' get_timestep_embedding, in the same float32 steps:
/// freq[i] = exp(−ln(maxPeriod) · i / (half − downscaleFreqShift)), i < half = dim/2;
/// arg = scale · t · freq; out = [sin(arg), cos(arg)] (or [cos, sin] with flipSinToCos),
/// zero-padded by one column when dim is odd.
func timestepEmbeddingKernel(_ timesteps: [Float], dim: Int, flipSinToCos: Bool, downscaleFreqShift: Float,
                             scale: Float, maxPeriod: Float, _ out: UnsafeMutablePointer<Float>) {
    let half = dim / 2
    let logPeriod = -Float(log(Double(maxPeriod)))
    let freqs = (0..<half).map { i in expf(logPeriod * Float(i) / (Float(half) - downscaleFreqShift)) }
    for (row, t) in timesteps.enumerated() {
        let o = out + row * dim
        for i in 0..<half {
            let arg = scale * (t * freqs[i])
            let s = sinf(arg), c = cosf(arg)
            if flipSinToCos { o[i] = c; o[half + i] = s } else { o[i] = s; o[half + i] = c }
        }
        if dim % 2 == 1 { o[dim - 1] = 0 }
    }
}
