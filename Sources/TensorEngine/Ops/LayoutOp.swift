// Differentiable reshape, permute, concat along channels and nearest 2x upsampling.

extension Tensor {
    /// The same values with another shape (storage shared, no copy). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) (\(count) values) to \(newShape)")
        let y = Tensor(shape: s, storage: storage)
        let original = shape
        return y.recorded("reshape", inputs: [self]) { ctx in
            [Tensor(shape: original, storage: ctx.gradOutput.storage)]
        }
    }

    /// A copy with dimensions reordered: result dimension i is this tensor's dimension perm[i]
    /// (as torch's permute). E.g. [B, L, H, D].permuted([0, 2, 1, 3]) → [B, H, L, D].
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.sorted() == Array(0..<rank), "permuted(\(perm)) is not a permutation of \(rank) dimensions")
        let y = Tensor(uninitializedShape: perm.map { shape[$0] })
        permuteKernel(data, shape: shape, perm: perm, y.data)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        let yShape = y.shape, original = shape
        return y.recorded("permute", inputs: [self]) { ctx in
            let dx = Tensor(uninitializedShape: original)
            permuteKernel(ctx.gradOutput.data, shape: yShape, perm: inverse, dx.data)
            return [dx]
        }
    }
}

/// Concatenates along the last dimension (channels, in NHWC): the UNet's skip connections.
public func concatLast(_ parts: [Tensor]) -> Tensor { concat(parts, axis: -1) }

/// Concatenates along `axis` (negative counts from the end); all other dimensions must
/// match. Axis 0 stacks batches (classifier-free guidance's [unconditional, conditional]).
public func concat(_ parts: [Tensor], axis: Int) -> Tensor {
    precondition(!parts.isEmpty, "concat of nothing")
    let rank = parts[0].rank
    let ax = axis < 0 ? rank + axis : axis
    precondition(ax >= 0 && ax < rank, "concat axis \(axis) outside rank \(rank)")
    for p in parts {
        precondition(p.rank == rank && (0..<rank).allSatisfy { $0 == ax || p.shape[$0] == parts[0].shape[$0] },
                     "concat: \(p.shape) does not match \(parts[0].shape) outside axis \(ax)")
    }
    // Viewed as [outer, shape[axis] · inner], concatenation along axis is along the last dim.
    let outer = parts[0].shape[..<ax].reduce(1, *), inner = parts[0].shape[(ax + 1)...].reduce(1, *)
    let widths = parts.map { $0.shape[ax] * inner }
    let total = widths.reduce(0, +)
    var outShape = parts[0].shape
    outShape[ax] = parts.map { $0.shape[ax] }.reduce(0, +)
    let y = Tensor(uninitializedShape: outShape)
    concatLastKernel(parts.map { UnsafePointer($0.data) }, widths: widths, rows: outer, y.data)
    let shapes = parts.map(\.shape)   // the parts themselves are not needed in backward
    return y.recorded("concat", inputs: parts) { ctx in
        var start = 0
        var grads: [Tensor?] = []
        for (i, shape) in shapes.enumerated() {
            if ctx.needsGrad(i) {
                let d = Tensor(uninitializedShape: shape)
                sliceLastKernel(ctx.gradOutput.data, total: total, start: start, width: widths[i], rows: outer, d.data)
                grads.append(d)
            } else { grads.append(nil) }
            start += widths[i]
        }
        return grads
    }
}

/// Elements `start ..< start + length` along `axis` (a copy), e.g. one half of a batch or
/// the query part of a fused projection.
public func slice(_ x: Tensor, axis: Int, start: Int, length: Int) -> Tensor {
    let ax = axis < 0 ? x.rank + axis : axis
    precondition(ax >= 0 && ax < x.rank && start >= 0 && length >= 0 && start + length <= x.shape[ax],
                 "slice \(start)..<\(start + length) along axis \(axis) of \(x.shape)")
    let outer = x.shape[..<ax].reduce(1, *), inner = x.shape[(ax + 1)...].reduce(1, *)
    let total = x.shape[ax] * inner
    var outShape = x.shape
    outShape[ax] = length
    let y = Tensor(uninitializedShape: outShape)
    sliceLastKernel(x.data, total: total, start: start * inner, width: length * inner, rows: outer, y.data)
    let shape = x.shape
    return y.recorded("slice", inputs: [x]) { ctx in
        let dx = Tensor(zeros: shape)
        let (g, d) = (ctx.gradOutput.data, dx.data)
        parallelChunks(outer, minimumPerThread: max(1, 16384 / max(1, total))) { r in
            for row in r { (d + row * total + start * inner).update(from: g + row * length * inner, count: length * inner) }
        }
        return [dx]
    }
}

/// Nearest-neighbour 2x upsampling of x [N, H, W, C] → [N, 2H, 2W, C].
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "upsampleNearest2x needs [N, H, W, C], got \(x.shape)")
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let y = Tensor(uninitializedShape: [n, 2 * h, 2 * w, c])
    upsampleNearest2xForward(x.data, y.data, n: n, h: h, w: w, c: c)
    let shape = x.shape
    return y.recorded("upsample", inputs: [x]) { ctx in
        let dx = Tensor(uninitializedShape: shape)
        upsampleNearest2xBackward(ctx.gradOutput.data, dx.data, n: n, h: h, w: w, c: c)
        return [dx]
    }
}
