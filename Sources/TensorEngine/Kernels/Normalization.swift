// Group norm over channels-last maps and layer norm over the last dimension.
//
// Statistics are summed in Double: a group at 64x64 with 10 channels per group is 40960 terms,
// where a float32 running sum loses digits PyTorch's pairwise sums keep.

#if canImport(Glibc)
import Glibc
#endif

/// Group norm on x viewed as [n, l, c] (l = H·W, channels last), `groups` groups of c/groups
/// consecutive channels. y = (x − mean) · rstd · gamma[c] + beta[c], optionally followed by
/// SiLU (the fused GroupNorm+SiLU of every UNet resnet block). Saves mean and rstd [n, groups].
func groupNormForward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                      _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                      n: Int, l: Int, c: Int, groups: Int, eps: Float, silu: Bool) {
    let cg = c / groups
    parallelFor(n * groups) { ng in
        let b = ng / groups, g = ng % groups
        let base = x + b * l * c + g * cg
        var sum = 0.0
        for i in 0..<l {
            let p = base + i * c
            var s: Float = 0
            for j in 0..<cg { s += p[j] }
            sum += Double(s)
        }
        let m = sum / Double(l * cg)
        let mf = Float(m)
        var sq = 0.0
        for i in 0..<l {
            let p = base + i * c
            var s: Float = 0
            for j in 0..<cg { let d = p[j] - mf; s += d * d }
            sq += Double(s)
        }
        let r = Float(1 / (sq / Double(l * cg) + Double(eps)).squareRoot())
        mean[ng] = mf
        rstd[ng] = r
        let out = y + b * l * c + g * cg
        for i in 0..<l {
            let p = base + i * c, q = out + i * c
            for j in 0..<cg {
                let ch = g * cg + j
                var v = (p[j] - mf) * r
                if let gamma { v *= gamma[ch] }
                if let beta { v += beta[ch] }
                q[j] = silu ? v * sigmoid(v) : v
            }
        }
    }
}

/// Backward of `groupNormForward`. dx is written when non-nil; dgamma/dbeta (per-sample
/// partials [n, c], summed by the caller over n) only when asked, so frozen affine weights
/// cost nothing. With SiLU fused, the pre-activation z is recomputed from x, mean and rstd.
func groupNormBackward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                       mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                       dx: UnsafeMutablePointer<Float>?, dgammaPartial: UnsafeMutablePointer<Float>?, dbetaPartial: UnsafeMutablePointer<Float>?,
                       n: Int, l: Int, c: Int, groups: Int, silu: Bool) {
    let cg = c / groups
    parallelFor(n * groups) { ng in
        let b = ng / groups, g = ng % groups
        let m = mean[ng], r = rstd[ng]
        let xb = x + b * l * c + g * cg, gb = dy + b * l * c + g * cg
        // dz: the gradient at the affine output (before SiLU when fused).
        @inline(__always) func dz(_ i: Int, _ j: Int, _ xhat: Float) -> Float {
            let gy = gb[i * c + j]
            guard silu else { return gy }
            let ch = g * cg + j
            var z = xhat
            if let gamma { z *= gamma[ch] }
            if let beta { z += beta[ch] }
            let s = sigmoid(z)
            return gy * s * (1 + z * (1 - s))
        }
        var sumD = 0.0, sumDX = 0.0
        for i in 0..<l {
            var sd: Float = 0, sdx: Float = 0
            for j in 0..<cg {
                let xhat = (xb[i * c + j] - m) * r
                let d = dz(i, j, xhat)
                let ch = g * cg + j
                if let dgammaPartial { dgammaPartial[b * c + ch] += d * xhat }
                if let dbetaPartial { dbetaPartial[b * c + ch] += d }
                let dxhat = gamma.map { d * $0[ch] } ?? d
                sd += dxhat
                sdx += dxhat * xhat
            }
            sumD += Double(sd); sumDX += Double(sdx)
        }
        guard let dx else { return }
        let count = Float(l * cg)
        let meanD = Float(sumD) / count, meanDX = Float(sumDX) / count
        let dxb = dx + b * l * c + g * cg
        for i in 0..<l {
            for j in 0..<cg {
                let xhat = (xb[i * c + j] - m) * r
                let d = dz(i, j, xhat)
                let dxhat = gamma.map { d * $0[g * cg + j] } ?? d
                dxb[i * c + j] = r * (dxhat - meanD - xhat * meanDX)
            }
        }
    }
}

/// Layer norm over the last dimension d of x [rows, d]. Saves mean and rstd per row.
func layerNormForward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                      _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                      rows: Int, d: Int, eps: Float) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { range in
        for row in range {
            let p = x + row * d, q = y + row * d
            var s = 0.0
            for j in 0..<d { s += Double(p[j]) }
            let m = Float(s / Double(d))
            var v = 0.0
            for j in 0..<d { let t = Double(p[j] - m); v += t * t }
            let r = Float(1 / (v / Double(d) + Double(eps)).squareRoot())
            mean[row] = m; rstd[row] = r
            for j in 0..<d {
                var o = (p[j] - m) * r
                if let gamma { o *= gamma[j] }
                if let beta { o += beta[j] }
                q[j] = o
            }
        }
    }
}

/// Backward of `layerNormForward`. dgamma/dbeta are summed over rows in per-part scratch.
func layerNormBackward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                       dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                       dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?, rows: Int, d: Int) {
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
            var sd: Float = 0, sdx: Float = 0
            for j in 0..<d {
                let xhat = (p[j] - m) * r
                if wantsAffine { dg[j] += g[j] * xhat; db[j] += g[j] }
                let dxhat = gamma.map { g[j] * $0[j] } ?? g[j]
                sd += dxhat; sdx += dxhat * xhat
            }
            guard let dx else { continue }
            let meanD = sd / Float(d), meanDX = sdx / Float(d)
            let q = dx + row * d
            for j in 0..<d {
                let xhat = (p[j] - m) * r
                let dxhat = gamma.map { g[j] * $0[j] } ?? g[j]
                q[j] = r * (dxhat - meanD - xhat * meanDX)
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
