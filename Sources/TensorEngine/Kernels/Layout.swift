// Data movement: permute, concat along the last dimension, nearest 2x upsampling (NHWC).

/// out = x permuted so that out dimension i is x dimension perm[i]. Walks the output row by
/// row (last output dim innermost); a row reads x with the stride of dimension perm.last, so
/// permutations that keep the last dim (splitting heads) copy contiguous runs.
func permuteKernel(_ x: UnsafePointer<Float>, shape: [Int], perm: [Int], _ out: UnsafeMutablePointer<Float>) {
    let rank = shape.count
    guard rank > 0 else { out[0] = x[0]; return }
    var inStrides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
    let outShape = perm.map { shape[$0] }
    let strides = perm.map { inStrides[$0] }   // x's stride along each output dim
    let inner = outShape[rank - 1], innerStride = strides[rank - 1]
    let rows = outShape.reduce(1, *) / max(1, inner)
    parallelChunks(rows, minimumPerThread: max(1, 16384 / max(1, inner))) { r in
        for row in r {
            var rem = row, off = 0
            for d in stride(from: rank - 2, through: 0, by: -1) {
                off += (rem % outShape[d]) * strides[d]
                rem /= outShape[d]
            }
            let src = x + off, dst = out + row * inner
            if innerStride == 1 {
                dst.update(from: src, count: inner)
            } else {
                for j in 0..<inner { dst[j] = src[j * innerStride] }
            }
        }
    }
}

/// out [rows, Σ widths] = the parts [rows, widths[k]] side by side.
func concatLastKernel(_ parts: [UnsafePointer<Float>], widths: [Int], rows: Int, _ out: UnsafeMutablePointer<Float>) {
    let total = widths.reduce(0, +)
    parallelChunks(rows, minimumPerThread: max(1, 16384 / max(1, total))) { r in
        for row in r {
            var col = 0
            for (p, w) in zip(parts, widths) {
                (out + row * total + col).update(from: p + row * w, count: w)
                col += w
            }
        }
    }
}

/// part [rows, width] = columns [start, start + width) of x [rows, total].
func sliceLastKernel(_ x: UnsafePointer<Float>, total: Int, start: Int, width: Int, rows: Int, _ part: UnsafeMutablePointer<Float>) {
    parallelChunks(rows, minimumPerThread: max(1, 16384 / max(1, total))) { r in
        for row in r { (part + row * width).update(from: x + row * total + start, count: width) }
    }
}

/// Nearest-neighbour 2x upsampling of x [n, h, w, c] to [n, 2h, 2w, c].
func upsampleNearest2xForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int, c: Int) {
    parallelChunks(n * h, minimumPerThread: max(1, 4096 / max(1, w * c))) { r in
        for nh in r {
            let b = nh / h, iy = nh % h
            let src = x + nh * w * c
            for dy in 0..<2 {
                let dst = y + ((b * 2 * h + 2 * iy + dy) * 2 * w) * c
                for ix in 0..<w {
                    (dst + (2 * ix) * c).update(from: src + ix * c, count: c)
                    (dst + (2 * ix + 1) * c).update(from: src + ix * c, count: c)
                }
            }
        }
    }
}

/// dx[n, y, x, c] = Σ of dy over the 2x2 block it was copied to.
func upsampleNearest2xBackward(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int, c: Int) {
    parallelChunks(n * h, minimumPerThread: max(1, 4096 / max(1, w * c))) { r in
        for nh in r {
            let b = nh / h, iy = nh % h
            let row0 = dy + ((b * 2 * h + 2 * iy) * 2 * w) * c
            let row1 = row0 + 2 * w * c
            let dst = dx + nh * w * c
            for ix in 0..<w {
                let a0 = row0 + 2 * ix * c, a1 = row1 + 2 * ix * c, o = dst + ix * c
                for ch in 0..<c { o[ch] = a0[ch] + a0[c + ch] + a1[ch] + a1[c + ch] }
            }
        }
    }
}
