// Differentiable linear layer (with optional LoRA) and (batched) matrix products.

/// A LoRA adapter on a linear layer: adds scale · (x · downᵀ) · upᵀ. `down` is A [rank, in],
/// `up` is B [out, rank] (PEFT's lora_A / lora_B); scale = alpha / rank. Only these two train.
public struct LoRA {
    public var down: Tensor
    public var up: Tensor
    public var scale: Float
    public init(down: Tensor, up: Tensor, scale: Float) {
        precondition(down.rank == 2 && up.rank == 2 && down.shape[0] == up.shape[1], "LoRA down \(down.shape) and up \(up.shape) do not match")
        self.down = down; self.up = up; self.scale = scale
    }
}

/// y = x · weightᵀ + bias (+ LoRA). x [..., in], weight [out, in] as PyTorch stores it,
/// bias [out]; y [..., out]. A frozen weight gets no weight-gradient GEMM.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, lora: LoRA? = nil) -> Tensor {
    linear(x, weight: .float32(weight), bias: bias, lora: lora)
}

/// `linear` with a frozen half-precision weight, widened to float32 for the forward GEMM and
/// again in backward (for the input gradient), each copy freed right after: a graph holds
/// the 2-byte weights, not 4-byte copies.
public func linear(_ x: Tensor, halfWeight: HalfTensor, bias: Tensor? = nil, lora: LoRA? = nil) -> Tensor {
    linear(x, weight: .half(halfWeight), bias: bias, lora: lora)
}

func linear(_ x: Tensor, weight w: OpWeight, bias: Tensor?, lora: LoRA?) -> Tensor {
    let shape = w.shape
    precondition(shape.count == 2, "linear weight must be [out, in], got \(shape)")
    let (outF, inF) = (shape[0], shape[1])
    precondition(x.rank >= 1 && x.shape.last == inF, "linear: input \(x.shape) does not end in \(inF) features (weight \(shape))")
    if let bias { precondition(bias.shape == [outF], "linear bias \(bias.shape), expected [\(outF)]") }
    if let lora { precondition(lora.down.shape[1] == inF && lora.up.shape[0] == outF, "LoRA \(lora.down.shape)/\(lora.up.shape) does not fit weight \(shape)") }
    let m = x.count / max(1, inF)
    let y = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outF])
    do {
        let weight = w.values()
        gemm(transposeB: true, m: m, n: outF, k: inF, a: x.data, lda: inF, b: weight.data, ldb: inF, c: y.data, ldc: outF)
    }
    if let bias { addBiasRows(y.data, bias.data, rows: m, cols: outF) }
    var h: Tensor? = nil
    if let lora {
        let r = lora.down.shape[0]
        let hh = Tensor(uninitializedShape: [m, r])
        gemm(transposeB: true, m: m, n: r, k: inF, a: x.data, lda: inF, b: lora.down.data, ldb: inF, c: hh.data, ldc: r)
        gemm(transposeB: true, m: m, n: outF, k: r, alpha: lora.scale, a: hh.data, lda: r, b: lora.up.data, ldb: r, beta: 1, c: y.data, ldc: outF)
        h = hh
    }

    // Inputs: x, weight, then bias and LoRA factors when present.
    var inputs = [x, w.input]
    let biasIndex = bias.map { inputs.append($0); return inputs.count - 1 }
    let loraIndex = lora.map { inputs.append($0.down); inputs.append($0.up); return inputs.count - 2 }
    return y.recorded("linear", inputs: inputs) { ctx in
        let g = ctx.gradOutput
        var grads = [Tensor?](repeating: nil, count: inputs.count)
        var dh: Tensor? = nil
        if let lora, let loraIndex, ctx.needsGrad(0) || ctx.needsGrad(loraIndex) {
            let r = lora.down.shape[0]
            let t = Tensor(uninitializedShape: [m, r])
            gemm(m: m, n: r, k: outF, alpha: lora.scale, a: g.data, lda: outF, b: lora.up.data, ldb: r, c: t.data, ldc: r)
            dh = t
        }
        if ctx.needsGrad(0) {
            let dx = Tensor(uninitializedShape: x.shape)
            let weight = w.values()
            gemm(m: m, n: inF, k: outF, a: g.data, lda: outF, b: weight.data, ldb: inF, c: dx.data, ldc: inF)
            if let lora, let dh {
                gemm(m: m, n: inF, k: lora.down.shape[0], a: dh.data, lda: lora.down.shape[0], b: lora.down.data, ldb: inF, beta: 1, c: dx.data, ldc: inF)
            }
            grads[0] = dx
        }
        if ctx.needsGrad(1) {
            let dw = Tensor(uninitializedShape: shape)
            gemm(transposeA: true, m: outF, n: inF, k: m, a: g.data, lda: outF, b: x.data, ldb: inF, c: dw.data, ldc: inF)
            grads[1] = dw
        }
        if let biasIndex, ctx.needsGrad(biasIndex) {
            let db = Tensor(uninitializedShape: [outF])
            sumRows(g.data, rows: m, cols: outF, db.data)
            grads[biasIndex] = db
        }
        if let lora, let loraIndex {
            let r = lora.down.shape[0]
            if ctx.needsGrad(loraIndex), let dh {
                let da = Tensor(uninitializedShape: lora.down.shape)
                gemm(transposeA: true, m: r, n: inF, k: m, a: dh.data, lda: r, b: x.data, ldb: inF, c: da.data, ldc: inF)
                grads[loraIndex] = da
            }
            if ctx.needsGrad(loraIndex + 1), let h {
                let db = Tensor(uninitializedShape: lora.up.shape)
                gemm(transposeA: true, m: outF, n: r, k: m, alpha: lora.scale, a: g.data, lda: outF, b: h.data, ldb: r, c: db.data, ldc: r)
                grads[loraIndex + 1] = db
            }
        }
        return grads
    }
}

/// Matrix product over the last two dimensions: a [..., M, K] · b [..., K, N] → [..., M, N]
/// (b [..., N, K] with transposeB). Leading dimensions must match, or b is a single matrix
/// shared by every batch.
public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let (m, k) = (a.dim(-2), a.dim(-1))
    let n = transposeB ? b.dim(-2) : b.dim(-1)
    let kb = transposeB ? b.dim(-1) : b.dim(-2)
    precondition(k == kb, "matmul: \(a.shape) · \(b.shape)\(transposeB ? "ᵀ" : "") inner dimensions differ")
    let batchShape = Array(a.shape.dropLast(2))
    let batch = batchShape.reduce(1, *)
    let bShared = b.rank == 2
    precondition(bShared || Array(b.shape.dropLast(2)) == batchShape, "matmul: batch dimensions of \(a.shape) and \(b.shape) differ")
    let y = Tensor(uninitializedShape: batchShape + [m, n])
    let (sa, sb, sy) = (m * k, bShared ? 0 : k * n, m * n)
    let ldb = transposeB ? k : n
    let (pa, pb, py) = (a.data, b.data, y.data)
    for i in 0..<batch {
        gemm(transposeB: transposeB, m: m, n: n, k: k, a: pa + i * sa, lda: k, b: pb + i * sb, ldb: ldb, c: py + i * sy, ldc: n)
    }
    return y.recorded("matmul", inputs: [a, b]) { ctx in
        let g = ctx.gradOutput.data
        var da: Tensor? = nil, db: Tensor? = nil
        if ctx.needsGrad(0) {
            let t = Tensor(uninitializedShape: a.shape)
            for i in 0..<batch {
                // da = g · b (transposeB) or g · bᵀ
                gemm(transposeB: !transposeB, m: m, n: k, k: n, a: g + i * sy, lda: n, b: pb + i * sb, ldb: ldb, c: t.data + i * sa, ldc: k)
            }
            da = t
        }
        if ctx.needsGrad(1) {
            let t = Tensor(zeros: b.shape)
            for i in 0..<batch {
                let beta: Float = bShared ? 1 : 0
                if transposeB {   // db [N, K] = gᵀ · a
                    gemm(transposeA: true, m: n, n: k, k: m, a: g + i * sy, lda: n, b: pa + i * sa, ldb: k, beta: beta, c: t.data + i * sb, ldc: k)
                } else {          // db [K, N] = aᵀ · g
                    gemm(transposeA: true, m: k, n: n, k: m, a: pa + i * sa, lda: k, b: g + i * sy, ldb: n, beta: beta, c: t.data + i * sb, ldc: n)
                }
            }
            db = t
        }
        return [da, db]
    }
}
