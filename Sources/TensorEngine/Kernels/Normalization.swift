// Group norm over channels-last maps and layer norm over the last dimension.
//
// Statistics are summed in Double: a group at 64x64 with 10 channels per group is 40960 terms,
// where a float32 running sum loses digits PyTorch's pairwise sums keep.

#if canImport(Glibc)
import Glibc
#endif

/// Per-channel sums over positions of one sample, x [l, c] → first[c] (and second[c]) in
/// Double, split over positions with per-part scratch. `term(row, ch0)` gives the eight lanes
/// to add for channels ch0..<ch0+8 of a row, for each of the two sums (padding lanes must be
/// zero). Float sums over runs of 64 rows are folded into Double: fast and still accurate.
@inline(__always)
private func channelSums(l: Int, c: Int, _ first: UnsafeMutablePointer<Double>, _ second: UnsafeMutablePointer<Double>?,
                         _ term: (Int, Int) -> (Vec8, Vec8)) {
    let sets = second == nil ? 1 : 2
    let parts = partitionCount(l, minimumPerThread: max(1, 16384 / max(1, c)))
    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: parts * sets * c)
    defer { scratch.deallocate() }
    scratch.initialize(repeating: 0, count: parts * sets * c)
    let vectors = (c + 7) / 8
    parallelPartitions(l, parts: parts) { part, rows in
        let acc = scratch + part * sets * c
        let lanes = UnsafeMutablePointer<Vec8>.allocate(capacity: 2 * vectors)
        defer { lanes.deallocate() }
        var start = rows.lowerBound
        while start < rows.upperBound {
            let end = min(rows.upperBound, start + 64)
            lanes.initialize(repeating: Vec8(), count: 2 * vectors)
            for row in start..<end {
                for v in 0..<vectors {
                    let (a, b) = term(row, 8 * v)
                    lanes[v] += a
                    if sets == 2 { lanes[vectors + v] += b }
                }
            }
            for set in 0..<sets {
                for v in 0..<vectors {
                    for k in 0..<min(8, c - 8 * v) { acc[set * c + 8 * v + k] += Double(lanes[set * vectors + v][k]) }
                }
            }
            start = end
        }
    }
    for ch in 0..<c {
        var t = 0.0, u = 0.0
        for p in 0..<parts {
            t += scratch[p * sets * c + ch]
            if sets == 2 { u += scratch[p * sets * c + c + ch] }
        }
        first[ch] = t
        second?[ch] = u
    }
}

/// Group norm on x viewed as [n, l, c] (l = H·W, channels last), `groups` groups of c/groups
/// consecutive channels. y = (x − mean) · rstd · gamma[c] + beta[c], optionally followed by
/// SiLU (the norm + nonlinearity pair of every UNet resnet block, fused: one pass, no extra
/// activation saved). Saves mean and rstd [n, groups].
///
/// Every pass walks rows of c contiguous channels, eight lanes at a time, split over
/// positions: (1) per-channel sums → group means, (2) per-channel squared deviations →
/// group variances, (3) y = x · scale[ch] + shift[ch] with the affine folded in.
func groupNormForward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                      _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                      n: Int, l: Int, c: Int, groups: Int, eps: Float, silu: Bool) {
    let cg = c / groups
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: c)
    let channelMean = UnsafeMutablePointer<Float>.allocate(capacity: c)
    let scale = UnsafeMutablePointer<Float>.allocate(capacity: c), shift = UnsafeMutablePointer<Float>.allocate(capacity: c)
    defer { sums.deallocate(); channelMean.deallocate(); scale.deallocate(); shift.deallocate() }
    for b in 0..<n {
        let xb = x + b * l * c, yb = y + b * l * c
        channelSums(l: l, c: c, sums, nil) { row, ch in (loadVec(xb + row * c, ch, c), Vec8()) }
        for g in 0..<groups {
            var s = 0.0
            for j in 0..<cg { s += sums[g * cg + j] }
            let m = Float(s / Double(l * cg))
            mean[b * groups + g] = m
            for j in 0..<cg { channelMean[g * cg + j] = m }
        }
        channelSums(l: l, c: c, sums, nil) { row, ch in
            // Padding lanes load x = 0 and mean = 0: they add zero.
            let d = loadVec(xb + row * c, ch, c) - loadVec(channelMean, ch, c)
            return (d * d, Vec8())
        }
        for g in 0..<groups {
            var s = 0.0
            for j in 0..<cg { s += sums[g * cg + j] }
            let r = Float(1 / (s / Double(l * cg) + Double(eps)).squareRoot())
            rstd[b * groups + g] = r
            for j in 0..<cg {
                let ch = g * cg + j
                scale[ch] = r * (gamma?[ch] ?? 1)
                shift[ch] = (beta?[ch] ?? 0) - channelMean[ch] * scale[ch]
            }
        }
        parallelChunks(l, minimumPerThread: max(1, 8192 / max(1, c))) { rows in
            for row in rows {
                let p = xb + row * c, q = yb + row * c
                for ch in stride(from: 0, to: c, by: 8) {
                    var v = loadVec(p, ch, c) * loadVec(scale, ch, c) + loadVec(shift, ch, c)
                    if silu { v = v * vsigmoid(v) }
                    storeVec(v, q, ch, c)
                }
            }
        }
    }
}

/// Backward of `groupNormForward`. With x̂ the normalised input and dz the gradient at the
/// affine output (dy, or dy · silu'(z) when fused, z recomputed from x̂):
///   dgamma[ch] = Σ dz·x̂,  dbeta[ch] = Σ dz                       (over samples and positions)
///   dx = rstd · (gamma·dz − mean_g(gamma·dz) − x̂ · mean_g(gamma·dz·x̂))
/// The per-channel sums of dz and dz·x̂ give both the affine gradients and the group means,
/// so there are two passes: sums, then dx. dx, dgamma and dbeta are each optional (frozen
/// affine weights cost nothing).
func groupNormBackward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                       mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                       dx: UnsafeMutablePointer<Float>?, dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?,
                       n: Int, l: Int, c: Int, groups: Int, silu: Bool) {
    let cg = c / groups
    // Per-channel coefficients of the current sample: x̂ = x·xa + xb, z = x̂·gamma + beta.
    let xa = UnsafeMutablePointer<Float>.allocate(capacity: c), xo = UnsafeMutablePointer<Float>.allocate(capacity: c)
    let gm = UnsafeMutablePointer<Float>.allocate(capacity: c), bt = UnsafeMutablePointer<Float>.allocate(capacity: c)
    let ca = UnsafeMutablePointer<Float>.allocate(capacity: c), cb = UnsafeMutablePointer<Float>.allocate(capacity: c)
    let cc = UnsafeMutablePointer<Float>.allocate(capacity: c)
    let sumD = UnsafeMutablePointer<Double>.allocate(capacity: c), sumDX = UnsafeMutablePointer<Double>.allocate(capacity: c)
    defer { for p in [xa, xo, gm, bt, ca, cb, cc] { p.deallocate() }; sumD.deallocate(); sumDX.deallocate() }
    for ch in 0..<c { gm[ch] = gamma?[ch] ?? 1; bt[ch] = beta?[ch] ?? 0 }
    dgamma?.initialize(repeating: 0, count: c)
    dbeta?.initialize(repeating: 0, count: c)

    for b in 0..<n {
        let xs = x + b * l * c, gs = dy + b * l * c
        for g in 0..<groups {
            let m = mean[b * groups + g], r = rstd[b * groups + g]
            for j in 0..<cg { xa[g * cg + j] = r; xo[g * cg + j] = -m * r }
        }
        @inline(__always) func xhatAndDz(_ row: Int, _ ch: Int) -> (Vec8, Vec8) {
            let xhat = loadVec(xs + row * c, ch, c) * loadVec(xa, ch, c) + loadVec(xo, ch, c)
            var d = loadVec(gs + row * c, ch, c)
            if silu {
                let z = xhat * loadVec(gm, ch, c) + loadVec(bt, ch, c)
                let s = vsigmoid(z)
                d = d * s * (1 + z * (1 - s))
            }
            return (xhat, d)
        }
        channelSums(l: l, c: c, sumD, sumDX) { row, ch in let (xh, d) = xhatAndDz(row, ch); return (d, xh * d) }
        for ch in 0..<c {
            dgamma?[ch] += Float(sumDX[ch])
            dbeta?[ch] += Float(sumD[ch])
        }
        guard let dx else { continue }
        // dx = dz · (rstd·gamma) + x̂ · (−rstd·meanDX) + (−rstd·meanD), per channel.
        for g in 0..<groups {
            var sd = 0.0, sdx = 0.0
            for j in 0..<cg { let ch = g * cg + j; sd += Double(gm[ch]) * sumD[ch]; sdx += Double(gm[ch]) * sumDX[ch] }
            let count = Double(l * cg)
            let r = rstd[b * groups + g]
            for j in 0..<cg {
                let ch = g * cg + j
                ca[ch] = r * gm[ch]
                cb[ch] = -r * Float(sdx / count)
                cc[ch] = -r * Float(sd / count)
            }
        }
        let dxs = dx + b * l * c
        parallelChunks(l, minimumPerThread: max(1, 8192 / max(1, c))) { rows in
            for row in rows {
                for ch in stride(from: 0, to: c, by: 8) {
                    let (xh, d) = xhatAndDz(row, ch)
                    storeVec(d * loadVec(ca, ch, c) + xh * loadVec(cb, ch, c) + loadVec(cc, ch, c), dxs + row * c, ch, c)
                }
            }
        }
    }
}

/// gamma and beta as buffers (ones and zeros when absent), so the row loops have no optionals.
private func affineBuffers(_ gamma: UnsafePointer<Float>?, _ beta: UnsafePointer<Float>?, _ d: Int)
    -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
    let g = UnsafeMutablePointer<Float>.allocate(capacity: d), b = UnsafeMutablePointer<Float>.allocate(capacity: d)
    if let gamma { g.update(from: gamma, count: d) } else { g.initialize(repeating: 1, count: d) }
    if let beta { b.update(from: beta, count: d) } else { b.initialize(repeating: 0, count: d) }
    return (g, b)
}

/// Layer norm over the last dimension d of x [rows, d]: per row, mean and variance (two
/// passes, eight lanes), then y = (x − mean) · rstd · gamma + beta. Saves mean and rstd.
func layerNormForward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                      _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                      rows: Int, d: Int, eps: Float) {
    let (g, b) = affineBuffers(gamma, beta, d)
    defer { g.deallocate(); b.deallocate() }
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { range in
        for row in range {
            let p = x + row * d, q = y + row * d
            var s = Vec8()
            for j in stride(from: 0, to: d, by: 8) { s += loadVec(p, j, d) }
            let m = s.sum() / Float(d)
            var v = Vec8()
            for j in stride(from: 0, to: d, by: 8) {
                var t = loadVec(p, j, d) - m
                if j + 8 > d { for k in (d - j)..<8 { t[k] = 0 } }   // padding lanes are not data
                v += t * t
            }
            let r = 1 / (v.sum() / Float(d) + eps).squareRoot()
            mean[row] = m; rstd[row] = r
            for j in stride(from: 0, to: d, by: 8) {
                storeVec((loadVec(p, j, d) - m) * r * loadVec(g, j, d) + loadVec(b, j, d), q, j, d)
            }
        }
    }
}

/// Backward of `layerNormForward`: with x̂ = (x − mean)·rstd and dx̂ = dy·gamma,
/// dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂·x̂)); dgamma = Σ_rows dy·x̂, dbeta = Σ_rows dy,
/// summed in per-part scratch.
func layerNormBackward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                       dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                       dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?, rows: Int, d: Int) {
    let (gm, unusedBeta) = affineBuffers(gamma, nil, d)
    defer { gm.deallocate(); unusedBeta.deallocate() }
    let parts = partitionCount(rows, minimumPerThread: max(1, 8192 / max(1, d)))
    let wantsAffine = dgamma != nil || dbeta != nil
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: wantsAffine ? parts * 2 * d : 1)
    defer { scratch.deallocate() }
    if wantsAffine { scratch.initialize(repeating: 0, count: parts * 2 * d) }
    parallelPartitions(rows, parts: parts) { part, range in
        let dg = scratch + part * 2 * d, db = dg + d
        for row in range {
            let p = x + row * d, g = dy + row * d
            let m = mean[row], r = rstd[row]
            var sd = Vec8(), sdx = Vec8()
            for j in stride(from: 0, to: d, by: 8) {
                // Padding lanes: dy loads 0, so dx̂ and both sums get 0 there.
                let xhat = (loadVec(p, j, d) - m) * r, gv = loadVec(g, j, d)
                if wantsAffine {
                    storeVec(loadVec(dg, j, d) + gv * xhat, dg, j, d)
                    storeVec(loadVec(db, j, d) + gv, db, j, d)
                }
                let dxhat = gv * loadVec(gm, j, d)
                sd += dxhat; sdx += dxhat * xhat
            }
            guard let dx else { continue }
            let meanD = sd.sum() / Float(d), meanDX = sdx.sum() / Float(d)
            let q = dx + row * d
            for j in stride(from: 0, to: d, by: 8) {
                let xhat = (loadVec(p, j, d) - m) * r
                let dxhat = loadVec(g, j, d) * loadVec(gm, j, d)
                storeVec(r * (dxhat - meanD - xhat * meanDX), q, j, d)
            }
        }
    }
    guard wantsAffine else { return }
    for j in 0..<d {
        var sg: Float = 0, sb: Float = 0
        for p in 0..<parts { sg += scratch[p * 2 * d + j]; sb += scratch[p * 2 * d + d + j] }
        dgamma?[j] = sg
        dbeta?[j] = sb
    }
}
