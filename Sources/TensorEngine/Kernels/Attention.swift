import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Multi-head scaled-dot-product attention, forward and backward, that never holds the full
// Lq×Lk score matrix: FlashAttention-2's algorithm with CPU-sized tiles and GEMMs on the tiles.
//
// Layouts (row-major float32), token-major with heads interleaved, as a linear layer makes them:
//   q, out, gradQ, gradOut   [B, Lq, H·D]      head h of token i is columns h·D ..< (h+1)·D
//   k, v, gradK, gradV       [B, Lk, H·D]
//   logSumExp                [B, H, Lq]        log Σ_j exp(scale · q_i·k_j), saved by forward
// A head's tile is a strided sub-matrix (leading dimension H·D), which BLAS reads directly, so
// nothing is gathered or transposed.
//
// Forward, per (batch, head, query tile), for each key tile: S = scale·Q·Kᵀ, then the online
// softmax keeps a running row max m and row sum l, rescales the output accumulator when m grows,
// and adds exp(S - m)·V. At the end out = acc / l and logSumExp = m + log l. (Internally the
// scores carry a factor log2 e, so that every exp is a cheaper 2^x.)
//
// Backward recomputes P = exp(S - logSumExp) tile by tile. With Δ_i = Σ_d dO_id·O_id
// (= Σ_j P_ij·dP_ij):  dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P∘(dP - Δ),  dQ += scale·dS·K,
// dK += scale·dSᵀ·Q.

/// The geometry of one attention call.
public struct AttentionShape: Sendable, Equatable, CustomStringConvertible {
    public var batch: Int
    public var heads: Int
    public var queryLength: Int
    public var keyLength: Int
    public var headDim: Int
    /// Multiplies q·k before the softmax; 1/√headDim unless given.
    public var scale: Float

    public init(batch: Int, heads: Int, queryLength: Int, keyLength: Int, headDim: Int, scale: Float? = nil) {
        precondition(batch > 0 && heads > 0 && queryLength > 0 && keyLength > 0 && headDim > 0,
                     "AttentionShape: sizes must be positive")
        self.batch = batch; self.heads = heads
        self.queryLength = queryLength; self.keyLength = keyLength; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }

    /// Width of a token row: heads · headDim.
    public var modelDim: Int { heads * headDim }
    /// Multiply-adds × 2 of the forward pass (Q·Kᵀ and P·V). Backward does 2.5× this.
    public var forwardFLOPs: Double { 4 * Double(batch * heads) * Double(queryLength) * Double(keyLength) * Double(headDim) }

    public var description: String {
        "attention \(batch)x\(heads) heads, \(queryLength)→\(keyLength) tokens, head dim \(headDim)"
    }
}

/// Tile sizes. Internal so tests can force many small tiles on small fixtures.
struct AttentionTiling {
    var query: Int
    var key: Int
    /// Split each head's keys into this many groups in backward, each with its own dQ partial,
    /// so there is parallel work when batch·heads is smaller than the thread count. nil = auto.
    var backwardKeyGroups: Int?

    // Measured in CPU cycles (perf stat) on SD 1.5's 4096-token self-attention, head dim 40:
    // 256-query tiles cost ~15% fewer cycles than 64 in forward and ~25% fewer in backward,
    // because every query tile re-packs the key and value tiles for the GEMMs. The score
    // tiles (256 KiB and 2 × 128 KiB) stay in L2.
    static let forward = AttentionTiling(query: 256, key: 256)
    static let backward = AttentionTiling(query: 256, key: 128)
}

/// out [B,Lq,H·D] is overwritten; logSumExp [B,H,Lq] is written for the backward pass.
/// Runs on all engine threads: the (batch, head, query tile) tasks run in parallel, each with
/// single-threaded tile GEMMs.
public func attentionForward(
    _ s: AttentionShape,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>
) {
    attentionForward(s, tiling: .forward, q: q, k: k, v: v, out: out, logSumExp: logSumExp)
}

/// gradQ [B,Lq,H·D], gradK and gradV [B,Lk,H·D] ACCUMULATE (+=). `out` and `logSumExp` are
/// what `attentionForward` produced for the same q, k, v.
public func attentionBackward(
    _ s: AttentionShape,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
    gradQ: UnsafeMutablePointer<Float>, gradK: UnsafeMutablePointer<Float>, gradV: UnsafeMutablePointer<Float>
) {
    attentionBackward(s, tiling: .backward, q: q, k: k, v: v, out: out, logSumExp: logSumExp,
                      gradOut: gradOut, gradQ: gradQ, gradK: gradK, gradV: gradV)
}

func attentionForward(
    _ s: AttentionShape, tiling t: AttentionTiling,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>
) {
    let d = s.headDim, hd = s.modelDim, lq = s.queryLength, lk = s.keyLength
    let queryTiles = (lq + t.query - 1) / t.query
    let tasks = s.batch * s.heads * queryTiles
    parallelFor(tasks) { task in
        let qt = task % queryTiles, bh = task / queryTiles
        let h = bh % s.heads, b = bh / s.heads
        let i0 = qt * t.query, bq = min(t.query, lq - i0)
        let qTile = q + (b * lq + i0) * hd + h * d
        let kHead = k + b * lk * hd + h * d
        let vHead = v + b * lk * hd + h * d

        let keyTile = min(t.key, lk)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: bq * keyTile + bq * d + 2 * bq)
        defer { scratch.deallocate() }
        let scores = scratch, acc = scratch + bq * keyTile
        let rowMax = acc + bq * d, rowSum = rowMax + bq
        rowMax.initialize(repeating: -.infinity, count: bq)
        rowSum.initialize(repeating: 0, count: bq)

        for j0 in stride(from: 0, to: lk, by: keyTile) {
            let bk = min(keyTile, lk - j0)
            // Scores in base-2 units (× log2 e), so the softmax can use 2^x.
            serialGEMM(transposeB: true, m: bq, n: bk, k: d, alpha: s.scale * log2e,
                 a: qTile, lda: hd, b: kHead + j0 * hd, ldb: hd, c: scores, ldc: bk)
            for r in 0..<bq {
                let row = scores + r * bk
                let newMax = max(rowMax[r], maxOfRow(row, count: bk))
                if j0 > 0 && newMax > rowMax[r] {
                    // Earlier tiles were exponentiated against a smaller max: shrink them.
                    let correction = scalarExp2(rowMax[r] - newMax)
                    rowSum[r] *= correction
                    let a = acc + r * d
                    for c in 0..<d { a[c] *= correction }
                }
                rowMax[r] = newMax
                rowSum[r] += exponentiateRow(row, count: bk, minus: newMax)
            }
            serialGEMM(m: bq, n: d, k: bk, a: scores, lda: bk, b: vHead + j0 * hd, ldb: hd,
                 beta: j0 == 0 ? 0 : 1, c: acc, ldc: d)
        }

        let outTile = out + (b * lq + i0) * hd + h * d
        let lse = logSumExp + (b * s.heads + h) * lq + i0
        for r in 0..<bq {
            let inverse = 1 / rowSum[r]
            let a = acc + r * d, o = outTile + r * hd
            for c in 0..<d { o[c] = a[c] * inverse }
            lse[r] = (rowMax[r] + scalarLog2(rowSum[r])) * ln2
        }
    }
}

func attentionBackward(
    _ s: AttentionShape, tiling t: AttentionTiling,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
    gradQ: UnsafeMutablePointer<Float>, gradK: UnsafeMutablePointer<Float>, gradV: UnsafeMutablePointer<Float>
) {
    let d = s.headDim, hd = s.modelDim, lq = s.queryLength, lk = s.keyLength
    let heads = s.batch * s.heads
    let keyTile = min(t.key, lk), queryTile = min(t.query, lq)
    let keyTiles = (lk + keyTile - 1) / keyTile
    // Each task owns the keys of its group, so dK and dV are written by one thread only. dQ
    // sums over all keys: group 0 adds into gradQ, the others into partials added at the end.
    // Only split when there are fewer than two heads per thread: more groups (8 tasks per
    // thread) measured ~10% more cycles on SD 1.5's self-attention, for the dQ partials.
    let threads = EngineThreads.count
    let groups = max(1, min(keyTiles, t.backwardKeyGroups ?? (heads >= 2 * threads ? 1 : (2 * threads + heads - 1) / heads)))
    let tilesPerGroup = (keyTiles + groups - 1) / groups
    let partialCount = heads * (groups - 1) * lq * d
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: max(1, partialCount))
    defer { partials.deallocate() }
    partials.initialize(repeating: 0, count: partialCount)

    parallelFor(heads * groups) { task in
        let g = task % groups, bh = task / groups
        let h = bh % s.heads, b = bh / s.heads
        let firstKey = g * tilesPerGroup * keyTile
        let endKey = min(lk, (g + 1) * tilesPerGroup * keyTile)
        guard firstKey < endKey else { return }
        let qHead = q + b * lq * hd + h * d, oHead = out + b * lq * hd + h * d
        let dOHead = gradOut + b * lq * hd + h * d
        let kHead = k + b * lk * hd + h * d, vHead = v + b * lk * hd + h * d
        let dKHead = gradK + b * lk * hd + h * d, dVHead = gradV + b * lk * hd + h * d
        // dQ for this group: straight into gradQ (stride H·D) or into a [Lq, D] partial.
        let (dQHead, dQStride) = g == 0
            ? (gradQ + b * lq * hd + h * d, hd)
            : (partials + (bh * (groups - 1) + g - 1) * lq * d, d)
        let lse = logSumExp + bh * lq

        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * queryTile * keyTile + queryTile)
        defer { scratch.deallocate() }
        let p = scratch, dS = scratch + queryTile * keyTile, delta = dS + queryTile * keyTile

        for i0 in stride(from: 0, to: lq, by: queryTile) {
            let bq = min(queryTile, lq - i0)
            let qTile = qHead + i0 * hd, dOTile = dOHead + i0 * hd
            for r in 0..<bq { delta[r] = dot(dOTile + r * hd, oHead + (i0 + r) * hd, count: d) }
            for j0 in stride(from: firstKey, to: endKey, by: keyTile) {
                let bk = min(keyTile, endKey - j0)
                let kTile = kHead + j0 * hd, vTile = vHead + j0 * hd
                // P = exp(scale·Q·Kᵀ - logSumExp) = 2^(scale·log2e·Q·Kᵀ - log2e·logSumExp)
                serialGEMM(transposeB: true, m: bq, n: bk, k: d, alpha: s.scale * log2e,
                     a: qTile, lda: hd, b: kTile, ldb: hd, c: p, ldc: bk)
                for r in 0..<bq { _ = exponentiateRow(p + r * bk, count: bk, minus: lse[i0 + r] * log2e) }
                // dV += Pᵀ·dO
                serialGEMM(transposeA: true, m: bk, n: d, k: bq, a: p, lda: bk, b: dOTile, ldb: hd,
                     beta: 1, c: dVHead + j0 * hd, ldc: hd)
                // dP = dO·Vᵀ, then dS = P∘(dP - Δ)·scale (the scale of S's gradient folded in)
                serialGEMM(transposeB: true, m: bq, n: bk, k: d, a: dOTile, lda: hd, b: vTile, ldb: hd,
                     c: dS, ldc: bk)
                for r in 0..<bq {
                    softmaxGradientRow(p: p + r * bk, dP: dS + r * bk, count: bk, delta: delta[r], scale: s.scale)
                }
                // dQ += dS·K,  dK += dSᵀ·Q
                serialGEMM(m: bq, n: d, k: bk, a: dS, lda: bk, b: kTile, ldb: hd,
                     beta: 1, c: dQHead + i0 * dQStride, ldc: dQStride)
                serialGEMM(transposeA: true, m: bk, n: d, k: bq, a: dS, lda: bk, b: qTile, ldb: hd,
                     beta: 1, c: dKHead + j0 * hd, ldc: hd)
            }
        }
    }

    if groups > 1 {
        parallelFor(heads) { bh in
            let h = bh % s.heads, b = bh / s.heads
            let dQHead = gradQ + b * lq * hd + h * d
            for g in 1..<groups {
                let partial = partials + (bh * (groups - 1) + g - 1) * lq * d
                for i in 0..<lq {
                    let dst = dQHead + i * hd, src = partial + i * d
                    for c in 0..<d { dst[c] += src[c] }
                }
            }
        }
    }
}

// MARK: - Row kernels on 8-wide vectors

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// The first `count` (< 8) values of p, the rest `fill`.
@inline(__always)
func loadPartial8(_ p: UnsafePointer<Float>, _ count: Int, fill: Float) -> SIMD8<Float> {
    var v = SIMD8<Float>(repeating: fill)
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// max(y, 0) without a compare: Swift's SIMD comparisons and pointwiseMin/Max are lowered
/// lane by lane, while this stays in vector registers. Exact when y ≤ 0 (gives 0).
@inline(__always)
func relu8(_ y: SIMD8<Float>) -> SIMD8<Float> {
    let magnitude = unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    return (y + magnitude) * 0.5
}

/// The row's maximum, up to rounding: a + relu(b - a) can differ from max(a, b) in the last
/// bit. The softmax only needs a shift near the maximum (it cancels out exactly).
/// Four independent running maxima: one chain of sub/and/add/mul per 8 values is latency-bound.
func maxOfRow(_ row: UnsafePointer<Float>, count n: Int) -> Float {
    var best = -Float.infinity
    var i = 0
    if n >= 32 {
        var m0 = load8(row), m1 = load8(row + 8), m2 = load8(row + 16), m3 = load8(row + 24)
        i = 32
        while i + 32 <= n {
            m0 = m0 + relu8(load8(row + i) - m0)
            m1 = m1 + relu8(load8(row + i + 8) - m1)
            m2 = m2 + relu8(load8(row + i + 16) - m2)
            m3 = m3 + relu8(load8(row + i + 24) - m3)
            i += 32
        }
        m0 = m0 + relu8(m1 - m0)
        m2 = m2 + relu8(m3 - m2)
        m0 = m0 + relu8(m2 - m0)
        for l in 0..<8 { best = max(best, m0[l]) }
    }
    while i < n { best = max(best, row[i]); i += 1 }
    return best
}

/// row[j] = 2^(row[j] - shift) in place; returns Σ_j of the new values. Four vectors per
/// step: each exp is a long dependent chain (the polynomial), so independent ones interleave.
func exponentiateRow(_ row: UnsafeMutablePointer<Float>, count n: Int, minus shift: Float) -> Float {
    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
    var i = 0
    while i + 32 <= n {
        let e0 = vectorExp2(load8(row + i) - shift)
        let e1 = vectorExp2(load8(row + i + 8) - shift)
        let e2 = vectorExp2(load8(row + i + 16) - shift)
        let e3 = vectorExp2(load8(row + i + 24) - shift)
        store8(e0, row + i); store8(e1, row + i + 8); store8(e2, row + i + 16); store8(e3, row + i + 24)
        s0 += e0; s1 += e1; s2 += e2; s3 += e3
        i += 32
    }
    while i + 8 <= n {
        let e = vectorExp2(load8(row + i) - shift)
        store8(e, row + i)
        s0 += e
        i += 8
    }
    var total = ((s0 + s1) + (s2 + s3)).sum()
    if i < n {
        let e = vectorExp2(loadPartial8(row + i, n - i, fill: 0) - shift)
        for l in 0..<(n - i) { row[i + l] = e[l]; total += e[l] }
    }
    return total
}

/// dP[j] = p[j] · (dP[j] - delta) · scale in place.
func softmaxGradientRow(p: UnsafePointer<Float>, dP: UnsafeMutablePointer<Float>, count n: Int, delta: Float, scale: Float) {
    var i = 0
    while i + 8 <= n {
        store8(load8(p + i) * (load8(dP + i) - delta) * scale, dP + i)
        i += 8
    }
    while i < n { dP[i] = p[i] * (dP[i] - delta) * scale; i += 1 }
}

func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n { acc += load8(a + i) * load8(b + i); i += 8 }
    var total = acc.sum()
    while i < n { total += a[i] * b[i]; i += 1 }
    return total
}

/// 2^x for 8 finite lanes x ≤ 127 (a softmax passes x ≤ 0), to about 3 ulp. Inputs below
/// -126 are raised to it (2^-126 ≈ 1e-38 instead of 0, which a softmax ignores); larger
/// inputs, -inf and NaN give garbage: no upper clamp, because this runs on every score.
/// Base 2 because the attention folds log2(e) into the GEMM's alpha: then the range reduction
/// x = n + r is one round and one exact subtraction, r ∈ [-1/2, 1/2], and 2^r is a degree-5
/// polynomial 1 + r·q(r) (least-squares fit of the relative error on Chebyshev nodes, max 1.1e-7).
@inline(__always)
func vectorExp2(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let x = x + relu8(SIMD8(repeating: -126) - x)
    // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
    let shifter = SIMD8<Float>(repeating: 12582912)
    let t = x + shifter
    let r = x - (t - shifter)
    var p = SIMD8<Float>(repeating: 1.3218672248e-3)
    p = mulAdd(p, r, 9.6716983244e-3)
    p = mulAdd(p, r, 5.5508930236e-2)
    p = mulAdd(p, r, 2.4022237957e-1)
    p = mulAdd(p, r, 6.9314688444e-1)
    p = mulAdd(p, r, 1)  // exactly 1, so that 2^n comes out exact
    let exponent = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- (0x4B40_0000 - 127)) &<< 23
    return p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
}

@inline(__always)
func scalarExp2(_ x: Float) -> Float { vectorExp2(SIMD8(repeating: x))[0] }

let log2e: Float = 1.4426950408889634
let ln2: Float = 0.6931471805599453

@inline(__always)
func scalarLog2(_ x: Float) -> Float { log2f(x) }
