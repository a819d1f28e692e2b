// The weight operand of linear and conv2d: float32, or frozen half precision.

/// A layer's weight as an op receives it: a float32 tensor (trainable or frozen), or frozen
/// half-precision values that are widened each time a pass needs them.
enum OpWeight {
    case float32(Tensor)
    case half(HalfTensor)

    var shape: [Int] {
        switch self {
        case .float32(let t): return t.shape
        case .half(let h): return h.shape
        }
    }

    /// Float32 values: the tensor itself, or a fresh widened copy (freed when released).
    func values() -> Tensor {
        switch self {
        case .float32(let t): return t
        case .half(let h): return h.widened()
        }
    }

    /// What autodiff sees as the op's weight input: the tensor, or for a half weight (never
    /// trained) an empty frozen placeholder, so the graph keeps no float32 copy alive.
    var input: Tensor {
        switch self {
        case .float32(let t): return t
        case .half: return Tensor(zeros: [0])
        }
    }
}
