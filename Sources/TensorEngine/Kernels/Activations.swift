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

@inline(__always) func activationValue(_ kind: Activation, _ x: Float) -> Float {
    switch kind {
    case .silu: return x * sigmoid(x)
    case .geluErf: return 0.5 * x * (1 + erff(x * invSqrt2))
    case .geluTanh: return 0.5 * x * (1 + tanhf(geluTanhK * (x + 0.044715 * x * x * x)))
    case .quickGELU: return x * sigmoid(1.702 * x)
    }
}

@inline(__always) func activationDerivative(_ kind: Activation, _ x: Float) -> Float {
    switch kind {
    case .silu:
        let s = sigmoid(x)
        return s * (1 + x * (1 - s))
    case .geluErf:
        return 0.5 * (1 + erff(x * invSqrt2)) + x * invSqrt2Pi * expf(-0.5 * x * x)
    case .geluTanh:
        let t = tanhf(geluTanhK * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * geluTanhK * (1 + 3 * 0.044715 * x * x)
    case .quickGELU:
        let s = sigmoid(1.702 * x)
        return s + 1.702 * x * s * (1 - s)
    }
}

/// y[i] = f(x[i]). The switch sits outside the loop so each loop is specialised.
func activationForward(_ kind: Activation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    parallelChunks(n, minimumPerThread: 1 << 14) { r in
        switch kind {
        case .silu: for i in r { y[i] = activationValue(.silu, x[i]) }
        case .geluErf: for i in r { y[i] = activationValue(.geluErf, x[i]) }
        case .geluTanh: for i in r { y[i] = activationValue(.geluTanh, x[i]) }
        case .quickGELU: for i in r { y[i] = activationValue(.quickGELU, x[i]) }
        }
    }
}

/// dx[i] = dy[i] · f'(x[i]).
func activationBackward(_ kind: Activation, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                        _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
    parallelChunks(n, minimumPerThread: 1 << 14) { r in
        switch kind {
        case .silu: for i in r { dx[i] = dy[i] * activationDerivative(.silu, x[i]) }
        case .geluErf: for i in r { dx[i] = dy[i] * activationDerivative(.geluErf, x[i]) }
        case .geluTanh: for i in r { dx[i] = dy[i] * activationDerivative(.geluTanh, x[i]) }
        case .quickGELU: for i in r { dx[i] = dy[i] * activationDerivative(.quickGELU, x[i]) }
        }
    }
}

/// GEGLU as diffusers computes it: x [rows, 2D] splits into (a, gate) = (x[:, :D], x[:, D:]),
/// y [rows, D] = a · gelu(gate) (exact erf GELU).
func gegluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { r in
        for row in r {
            let a = x + row * 2 * d, gate = a + d, out = y + row * d
            for j in 0..<d { out[j] = a[j] * activationValue(.geluErf, gate[j]) }
        }
    }
}

/// dx[:, :D] = dy · gelu(gate), dx[:, D:] = dy · a · gelu'(gate).
func gegluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
    parallelChunks(rows, minimumPerThread: max(1, 8192 / max(1, d))) { r in
        for row in r {
            let a = x + row * 2 * d, gate = a + d, g = dy + row * d
            let da = dx + row * 2 * d, dgate = da + d
            for j in 0..<d {
                da[j] = g[j] * activationValue(.geluErf, gate[j])
                dgate[j] = g[j] * a[j] * activationDerivative(.geluErf, gate[j])
            }
        }
    }
}
