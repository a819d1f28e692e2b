// Pointwise activations and GEGLU: forward y = f(x), backward dx = dy · f'(x).
// Each loop is a flat pass over contiguous floats, split across threads.

#if canImport(Glibc)
import Glibc
#endif

public enum Activation: String, Sendable, CaseIterable {
    /// x · sigmoid(x)
    case silu
    /// 0.5 · x · (1 + erf(x / √2)), PyTorch's default GELU.
    case geluErf
    /// 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 x³))), GELU(approximate="tanh").
    case geluTanh
    /// x · sigmoid(1.702 x), CLIP's quick_gelu.
    case quickGELU
}

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

let geluTanhK: Float = 0.7978845608028654   // √(2/π)
let invSqrt2: Float = 0.7071067811865476
let invSqrt2Pi: Float = 0.3989422804014327  // 1/√(2π)

@inline(__always) func activationValue(_ kind: Activation, _ x: Vec8) -> Vec8 {
    switch kind {
    case .silu: return x * vsigmoid(x)
    case .geluErf: return 0.5 * x * (1 + verf(x * invSqrt2))
    case .geluTanh:
        let c: Float = 0.044715
        return 0.5 * x * (1 + vtanh(geluTanhK * (x + c * x * x * x)))
    case .quickGELU: return x * vsigmoid(1.702 * x)
    }
}

@inline(__always) func activationDerivative(_ kind: Activation, _ x: Vec8) -> Vec8 {
    switch kind {
    case .silu:
        let s = vsigmoid(x)
        return s * (1 + x * (1 - s))
    case .geluErf:
        return 0.5 * (1 + verf(x * invSqrt2)) + x * invSqrt2Pi * vexp(-0.5 * x * x)
    case .geluTanh:
        let c: Float = 0.044715
        let x2 = x * x
        let t = vtanh(geluTanhK * (x + c * x2 * x))
        let inner: Vec8 = geluTanhK * (1 + (3 * c) * x2)
        let half: Float = 0.5
        return half * (1 + t) + half * x * (1 - t * t) * inner
    case .quickGELU:
        let s = vsigmoid(1.702 * x)
        return s + 1.702 * x * s * (1 - s)
    }
}

/// y[i] = f(x[i]), eight lanes at a time. The switch sits outside the loop so each loop is
/// specialised for its activation.
func activationForward(_ kind: Activation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    @inline(__always) func run(_ k: Activation, _ r: Range<Int>) {
        for i in stride(from: r.lowerBound, to: r.upperBound, by: 8) {
            storeVec(activationValue(k, loadVec(x, i, r.upperBound)), y, i, r.upperBound)
        }
    }
    parallelChunks(n, minimumPerThread: 1 << 14) { r in
        switch kind {
        case .silu: run(.silu, r)
        case .geluErf: run(.geluErf, r)
        case .geluTanh: run(.geluTanh, r)
        case .quickGELU: run(.quickGELU, r)
        }
    }
}

/// dx[i] = dy[i] · f'(x[i]).
func activationBackward(_ kind: Activation, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                        _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
    @inline(__always) func run(_ k: Activation, _ r: Range<Int>) {
        for i in stride(from: r.lowerBound, to: r.upperBound, by: 8) {
            let d = loadVec(dy, i, r.upperBound) * activationDerivative(k, loadVec(x, i, r.upperBound))
            storeVec(d, dx, i, r.upperBound)
        }
    }
    parallelChunks(n, minimumPerThread: 1 << 14) { r in
        switch kind {
        case .silu: run(.silu, r)
        case .geluErf: run(.geluErf, r)
        case .geluTanh: run(.geluTanh, r)
        case .quickGELU: run(.quickGELU, r)
        }
    }
}

/// GEGLU as diffusers computes it: x [rows, 2D] splits into (a, gate) = (x[:, :D], x[:, D:]),
/// y [rows, D] = a · gelu(gate) (exact erf GELU).
func gegluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { r in
        for row in r {
            let a = x + row * 2 * d, gate = a + d, out = y + row * d
            for j in stride(from: 0, to: d, by: 8) {
                storeVec(loadVec(a, j, d) * activationValue(.geluErf, loadVec(gate, j, d)), out, j, d)
            }
        }
    }
}

/// dx[:, :D] = dy · gelu(gate), dx[:, D:] = dy · a · gelu'(gate).
func gegluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { r in
        for row in r {
            let a = x + row * 2 * d, gate = a + d, g = dy + row * d
            let da = dx + row * 2 * d, dgate = da + d
            for j in stride(from: 0, to: d, by: 8) {
                let gv = loadVec(g, j, d), gt = loadVec(gate, j, d)
                storeVec(gv * activationValue(.geluErf, gt), da, j, d)
                storeVec(gv * loadVec(a, j, d) * activationDerivative(.geluErf, gt), dgate, j, d)
            }
        }
    }
}
