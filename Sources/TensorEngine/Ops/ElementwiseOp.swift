// Differentiable elementwise ops: broadcasting add/sub/mul, scaling, activations, GEGLU.

/// a ∘ b with NumPy broadcasting (see Kernels/Broadcast.swift for the shapes it is fast on).
public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
    let plan = BroadcastPlan(a.shape, b.shape)
    // Keep the output's rank as the larger operand's (a scalar stays [] when both are).
    let outShape = max(a.rank, b.rank) == 0 ? [] : plan.outShape
    let y = Tensor(uninitializedShape: outShape)
    broadcastBinaryForward(op, plan, a.data, b.data, y.data)
    // Only a product needs its operands in backward; a sum (a residual) keeps neither alive.
    let (savedA, savedB) = op == .mul ? (a, b) : (nil, nil)
    let (aShape, bShape) = (a.shape, b.shape)
    return y.recorded("\(op)", inputs: [a, b]) { ctx in
        let g = ctx.gradOutput.data
        var da: Tensor? = nil, db: Tensor? = nil
        if ctx.needsGrad(0) {
            let t = Tensor(uninitializedShape: aShape)
            broadcastGradient(plan, dy: g, scale: 1, other: savedB.map { UnsafePointer($0.data) }, otherStrides: plan.bStrides,
                              target: t.data, targetStrides: plan.aStrides, targetCount: t.count)
            da = t
        }
        if ctx.needsGrad(1) {
            let t = Tensor(uninitializedShape: bShape)
            broadcastGradient(plan, dy: g, scale: op == .sub ? -1 : 1, other: savedA.map { UnsafePointer($0.data) }, otherStrides: plan.aStrides,
                              target: t.data, targetStrides: plan.bStrides, targetCount: t.count)
            db = t
        }
        return [da, db]
    }
}

public func add(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.add, a, b) }
public func sub(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.sub, a, b) }
public func mul(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.mul, a, b) }

public func + (a: Tensor, b: Tensor) -> Tensor { binary(.add, a, b) }
public func - (a: Tensor, b: Tensor) -> Tensor { binary(.sub, a, b) }
public func * (a: Tensor, b: Tensor) -> Tensor { binary(.mul, a, b) }
public func * (a: Tensor, s: Float) -> Tensor { scaled(a, by: s) }
public func * (s: Float, a: Tensor) -> Tensor { scaled(a, by: s) }

/// s · x for a constant s.
public func scaled(_ x: Tensor, by s: Float) -> Tensor {
    let y = Tensor(uninitializedShape: x.shape)
    scaleKernel(x.data, s, y.data, x.count)
    let shape = x.shape
    return y.recorded("scale", inputs: [x]) { ctx in
        let dx = Tensor(uninitializedShape: shape)
        scaleKernel(ctx.gradOutput.data, s, dx.data, dx.count)
        return [dx]
    }
}

/// f(x) for one of the pointwise activations.
public func activation(_ kind: Activation, _ x: Tensor) -> Tensor {
    let y = Tensor(uninitializedShape: x.shape)
    activationForward(kind, x.data, y.data, x.count)
    return y.recorded(kind.rawValue, inputs: [x]) { ctx in
        let dx = Tensor(uninitializedShape: x.shape)
        activationBackward(kind, x.data, ctx.gradOutput.data, dx.data, x.count)
        return [dx]
    }
}

public func silu(_ x: Tensor) -> Tensor { activation(.silu, x) }
/// GELU, exact (erf) by default; `approximateTanh` for GELU(approximate="tanh").
public func gelu(_ x: Tensor, approximateTanh: Bool = false) -> Tensor { activation(approximateTanh ? .geluTanh : .geluErf, x) }
public func quickGELU(_ x: Tensor) -> Tensor { activation(.quickGELU, x) }

/// diffusers' GEGLU after its projection: x [..., 2D] → x[..., :D] · gelu(x[..., D:]).
public func geglu(_ x: Tensor) -> Tensor {
    let two = x.shape.last ?? 0
    precondition(two % 2 == 0, "geglu needs an even last dimension, got \(x.shape)")
    let d = two / 2, rows = x.count / max(1, two)
    let y = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [d])
    gegluForward(x.data, y.data, rows: rows, d: d)
    return y.recorded("geglu", inputs: [x]) { ctx in
        let dx = Tensor(uninitializedShape: x.shape)
        gegluBackward(x.data, ctx.gradOutput.data, dx.data, rows: rows, d: d)
        return [dx]
    }
}
