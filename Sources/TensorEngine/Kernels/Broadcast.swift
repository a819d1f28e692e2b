// Elementwise binary ops with NumPy broadcasting: shapes are aligned from the right, and a
// dimension of size 1 (or a missing one) repeats. The kernel walks the output row by row (a
// row = the last dimension); each operand advances along a row with stride 1, or 0 when it is
// broadcast there. Covers same-shape, scalar, per-channel bias [C] and the UNet's time
// embedding [N,1,1,C] over NHWC with one loop.

public enum BinaryOp: Sendable { case add, sub, mul }

/// How two shapes broadcast: the output shape and, for each operand, its element stride in
/// every output dimension (0 where it repeats).
struct BroadcastPlan {
    let outShape: [Int]
    let aStrides: [Int]
    let bStrides: [Int]
    var outCount: Int { outShape.reduce(1, *) }

    init(_ a: [Int], _ b: [Int]) {
        let rank = max(a.count, b.count, 1)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            precondition(pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1, "shapes \(a) and \(b) do not broadcast")
            out[i] = pa[i] == 1 ? pb[i] : pa[i]
        }
        outShape = out
        aStrides = BroadcastPlan.strides(pa, out)
        bStrides = BroadcastPlan.strides(pb, out)
    }

    /// Contiguous strides of `shape`, zeroed where `shape` has 1 and the output does not.
    static func strides(_ shape: [Int], _ out: [Int]) -> [Int] {
        var s = [Int](repeating: 0, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = (shape[i] == 1 && out[i] != 1) ? 0 : acc
            acc *= shape[i]
        }
        return s
    }

    /// Offsets of output row `row` (all dims but the last) into each operand.
    @inline(__always) func rowOffsets(_ row: Int, _ strides: [[Int]]) -> (Int, Int) {
        var rem = row, o0 = 0, o1 = 0
        for d in stride(from: outShape.count - 2, through: 0, by: -1) {
            let i = rem % outShape[d]
            rem /= outShape[d]
            o0 += i * strides[0][d]
            o1 += i * strides[1][d]
        }
        return (o0, o1)
    }
}

/// out = a ∘ b with broadcasting.
func broadcastBinaryForward(_ op: BinaryOp, _ plan: BroadcastPlan, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            _ out: UnsafeMutablePointer<Float>) {
    let inner = plan.outShape.last ?? 1
    let rows = plan.outCount / max(1, inner)
    let sa = plan.aStrides.last ?? 0, sb = plan.bStrides.last ?? 0
    let strides = [plan.aStrides, plan.bStrides]
    parallelChunks(rows, minimumPerThread: max(1, 16384 / max(1, inner))) { r in
        for row in r {
            let (oa, ob) = plan.rowOffsets(row, strides)
            let pa = a + oa, pb = b + ob, po = out + row * inner
            // Unit or zero strides, spelled out so each loop vectorises.
            @inline(__always) func apply(_ f: (Float, Float) -> Float) {
                switch (sa, sb) {
                case (1, 1): for j in 0..<inner { po[j] = f(pa[j], pb[j]) }
                case (1, 0): let vb = pb[0]; for j in 0..<inner { po[j] = f(pa[j], vb) }
                case (0, 1): let va = pa[0]; for j in 0..<inner { po[j] = f(va, pb[j]) }
                default: for j in 0..<inner { po[j] = f(pa[j * sa], pb[j * sb]) }
                }
            }
            switch op {
            case .add: apply(+)
            case .sub: apply(-)
            case .mul: apply(*)
            }
        }
    }
}

/// The gradient of one operand: target[t] = scale · Σ over output positions p that read t of
/// dy[p] · other[p] (other = nil means 1). `targetStrides` / `otherStrides` are the operands'
/// broadcast strides. When the target repeats (is broadcast), several threads would hit the
/// same element, so each part sums into its own scratch copy and the copies are added after.
func broadcastGradient(_ plan: BroadcastPlan, dy: UnsafePointer<Float>, scale: Float,
                       other: UnsafePointer<Float>?, otherStrides: [Int],
                       target: UnsafeMutablePointer<Float>, targetStrides: [Int], targetCount: Int) {
    let inner = plan.outShape.last ?? 1
    let rows = plan.outCount / max(1, inner)
    let st = targetStrides.last ?? 0, so = otherStrides.last ?? 0
    let strides = [targetStrides, otherStrides]
    if targetCount == plan.outCount {
        // No repetition: every output element maps to its own target element.
        parallelChunks(rows, minimumPerThread: max(1, 16384 / max(1, inner))) { r in
            for row in r {
                let (ot, oo) = plan.rowOffsets(row, strides)
                let g = dy + row * inner, t = target + ot
                if let other {
                    let o = other + oo
                    for j in 0..<inner { t[j] = scale * g[j] * o[j * so] }
                } else {
                    for j in 0..<inner { t[j] = scale * g[j] }
                }
            }
        }
        return
    }
    let parts = partitionCount(rows, minimumPerThread: max(1, 65536 / max(1, inner)))
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: parts * targetCount)
    defer { scratch.deallocate() }
    scratch.initialize(repeating: 0, count: parts * targetCount)
    parallelPartitions(rows, parts: parts) { part, r in
        let acc = scratch + part * targetCount
        for row in r {
            let (ot, oo) = plan.rowOffsets(row, strides)
            let g = dy + row * inner, t = acc + ot
            if let other {
                let o = other + oo
                for j in 0..<inner { t[j * st] += g[j] * o[j * so] }
            } else {
                for j in 0..<inner { t[j * st] += g[j] }
            }
        }
    }
    for i in 0..<targetCount {
        var s: Float = 0
        for p in 0..<parts { s += scratch[p * targetCount + i] }
        target[i] = scale * s
    }
}
