// Stride-1 convolution without im2col: one GEMM per kernel tap.
//
// Zero-pad one image to [Hp, Wp, Cin] and compute the output over a "wide" grid of Ho rows of
// Wp pixels (Wp - Wo columns of each row are junk). In the flattened wide grid, output pixel
// q = y·Wp + x reads, for tap (kh, kw), padded pixel q + kh·Wp + kw: the same offset for every
// q. So each tap is one plain GEMM over all pixels,
//     wide[q, :] += padded[q + kh·Wp + kw, :] · W[:, kh, kw, :]ᵀ        (k = Cin)
// and the nine of them accumulate in C. The valid columns are then copied out. Compared with
// im2col this never copies the input nine times; the GEMMs are as large (m = pixels) and only
// their inner dimension is shorter. The backward pass runs the same offsets the other way.
//
// Only the first M = (Ho-1)·Wp + Wo wide rows are computed: the last row's junk columns would
// read past the padded image.

func conv2dForwardShifted(
    _ s: Conv2DShape,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>
) {
    precondition(s.stride == 1)
    let g = ShiftedGeometry(s)
    let padded = s.padding > 0 ? UnsafeMutablePointer<Float>.allocate(capacity: g.paddedCount) : nil
    let wide = UnsafeMutablePointer<Float>.allocate(capacity: g.wideCount)
    defer { padded?.deallocate(); wide.deallocate() }

    for n in 0..<s.batch {
        let image = input + n * s.height * s.width * s.inChannels
        let source: UnsafePointer<Float>
        if let padded { padImage(s, image, into: padded); source = UnsafePointer(padded) } else { source = image }
        for kh in 0..<s.kernelH {
            for kw in 0..<s.kernelW {
                let tap = kh * s.kernelW + kw
                gemm(transposeB: true, m: g.rows, n: s.outChannels, k: s.inChannels,
                     a: source + (kh * g.paddedWidth + kw) * s.inChannels, lda: s.inChannels,
                     b: weight + tap * s.inChannels, ldb: s.patchSize,
                     beta: tap == 0 ? 0 : 1, c: wide, ldc: s.outChannels)
            }
        }
        // Copy the valid columns out, adding the bias on the way.
        let out = output + n * s.outHeight * s.outWidth * s.outChannels
        let cout = s.outChannels
        parallelChunks(s.outHeight, minimumPerThread: max(1, 16384 / (s.outWidth * cout))) { rows in
            for y in rows {
                let src = wide + y * g.paddedWidth * cout
                let dst = out + y * s.outWidth * cout
                if let bias {
                    for x in 0..<s.outWidth {
                        let d = dst + x * cout, q = src + x * cout
                        for c in 0..<cout { d[c] = q[c] + bias[c] }
                    }
                } else {
                    dst.update(from: src, count: s.outWidth * cout)
                }
            }
        }
    }
}

func conv2dBackwardShifted(
    _ s: Conv2DShape,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?
) {
    precondition(s.stride == 1)
    let g = ShiftedGeometry(s)
    let cout = s.outChannels, cin = s.inChannels
    // gradOutput on the wide grid; its junk columns must be zero so they contribute nothing.
    let wideGrad = UnsafeMutablePointer<Float>.allocate(capacity: g.wideCount)
    // The padded input is only needed for the weight gradient.
    let padded = (gradWeight != nil && s.padding > 0) ? UnsafeMutablePointer<Float>.allocate(capacity: g.paddedCount) : nil
    // Without padding the padded-grid gradient *is* gradInput, so the GEMMs accumulate into it.
    let paddedGrad = (gradInput != nil && s.padding > 0) ? UnsafeMutablePointer<Float>.allocate(capacity: g.paddedCount) : nil
    defer { wideGrad.deallocate(); padded?.deallocate(); paddedGrad?.deallocate() }

    for n in 0..<s.batch {
        let gOut = gradOutput + n * s.outHeight * s.outWidth * cout
        parallelChunks(s.outHeight, minimumPerThread: max(1, 16384 / (s.outWidth * cout))) { rows in
            for y in rows {
                let dst = wideGrad + y * g.paddedWidth * cout
                dst.update(from: gOut + y * s.outWidth * cout, count: s.outWidth * cout)
                (dst + s.outWidth * cout).update(repeating: 0, count: (g.paddedWidth - s.outWidth) * cout)
            }
        }
        let image = input + n * s.height * s.width * cin

        if let gradWeight {
            let source: UnsafePointer<Float>
            if let padded { padImage(s, image, into: padded); source = UnsafePointer(padded) } else { source = image }
            for kh in 0..<s.kernelH {
                for kw in 0..<s.kernelW {
                    let tap = kh * s.kernelW + kw
                    // gradW[:, tap, :] += wideGrad[M, Cout]ᵀ · padded[offset ..< offset+M, Cin]
                    gemm(transposeA: true, m: cout, n: cin, k: g.rows,
                         a: wideGrad, lda: cout,
                         b: source + (kh * g.paddedWidth + kw) * cin, ldb: cin,
                         beta: 1, c: gradWeight + tap * cin, ldc: s.patchSize)
                }
            }
        }

        if let gradInput {
            let gIn = gradInput + n * s.height * s.width * cin
            let target = paddedGrad ?? gIn
            if paddedGrad != nil { target.update(repeating: 0, count: g.paddedCount) }
            for kh in 0..<s.kernelH {
                for kw in 0..<s.kernelW {
                    let tap = kh * s.kernelW + kw
                    // padded grad[offset ..< offset+M, Cin] += wideGrad[M, Cout] · W[:, tap, :]
                    gemm(m: g.rows, n: cin, k: cout,
                         a: wideGrad, lda: cout,
                         b: weight + tap * cin, ldb: s.patchSize,
                         beta: 1, c: target + (kh * g.paddedWidth + kw) * cin, ldc: cin)
                }
            }
            if let paddedGrad {
                let p = s.padding
                parallelChunks(s.height, minimumPerThread: max(1, 16384 / (s.width * cin))) { rows in
                    for y in rows {
                        let src = paddedGrad + ((y + p) * g.paddedWidth + p) * cin
                        let dst = gIn + y * s.width * cin
                        for i in 0..<(s.width * cin) { dst[i] += src[i] }
                    }
                }
            }
        }
    }
}

/// Sizes of the padded image and of the wide output grid for one image.
struct ShiftedGeometry {
    let paddedHeight: Int, paddedWidth: Int
    /// Wide rows computed by each tap's GEMM.
    let rows: Int
    let paddedCount: Int, wideCount: Int

    init(_ s: Conv2DShape) {
        paddedHeight = s.height + 2 * s.padding
        paddedWidth = s.width + 2 * s.padding
        rows = (s.outHeight - 1) * paddedWidth + s.outWidth
        paddedCount = paddedHeight * paddedWidth * s.inChannels
        wideCount = s.outHeight * paddedWidth * s.outChannels
    }
}

/// Copies one [H, W, Cin] image into the middle of a zeroed [H+2p, W+2p, Cin] buffer.
func padImage(_ s: Conv2DShape, _ image: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
    let p = s.padding, cin = s.inChannels
    let pw = s.width + 2 * p, ph = s.height + 2 * p
    parallelChunks(ph, minimumPerThread: max(1, 16384 / (pw * cin))) { rows in
        for py in rows {
            let dst = padded + py * pw * cin
            let y = py - p
            if y < 0 || y >= s.height {
                dst.update(repeating: 0, count: pw * cin)
            } else {
                dst.update(repeating: 0, count: p * cin)
                (dst + p * cin).update(from: image + y * s.width * cin, count: s.width * cin)
                (dst + (p + s.width) * cin).update(repeating: 0, count: p * cin)
            }
        }
    }
}
