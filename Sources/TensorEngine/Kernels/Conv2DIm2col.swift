// Convolution for any stride and padding: im2col over a few output rows at a time.
//
// The column matrix of a tile holds, for each output pixel of the tile, its receptive field as
// one row of KH·KW·Cin values in the weight's (kh, kw, ci) order, zeros where it falls on the
// padding. Then
//     forward      out[tile, Cout]  = col[tile, K] · W[Cout, K]ᵀ
//     weight grad  gW[Cout, K]     += gOut[tile, Cout]ᵀ · col[tile, K]
//     input grad   gCol[tile, K]    = gOut[tile, Cout] · W[Cout, K], scattered back (col2im)
// Tiles are whole output rows of one image, as many as fit `columnBudget` floats, so the
// output tile and gradOutput tile are contiguous and the buffer stays bounded.

/// Floats of column buffer per tile (8 MiB): large enough that the GEMMs run at full speed.
let im2colColumnBudget = 1 << 21

func conv2dForwardIm2col(
    _ s: Conv2DShape, tiling: Im2colTiling? = nil,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>
) {
    let tiles = tiling ?? Im2colTiling(s)
    let col = UnsafeMutablePointer<Float>.allocate(capacity: tiles.columnCapacity)
    defer { col.deallocate() }
    for n in 0..<s.batch {
        let image = input + n * s.height * s.width * s.inChannels
        for r0 in stride(from: 0, to: s.outHeight, by: tiles.rowsPerTile) {
            let r1 = min(s.outHeight, r0 + tiles.rowsPerTile)
            let pixels = (r1 - r0) * s.outWidth
            im2col(s, image: image, rows: r0..<r1, into: col)
            let out = output + ((n * s.outHeight + r0) * s.outWidth) * s.outChannels
            gemm(transposeB: true, m: pixels, n: s.outChannels, k: s.patchSize,
                 a: col, lda: s.patchSize, b: weight, ldb: s.patchSize, c: out, ldc: s.outChannels)
            if let bias { addBiasRows(out, rows: pixels, bias: bias, channels: s.outChannels) }
        }
    }
}

func conv2dBackwardIm2col(
    _ s: Conv2DShape, tiling: Im2colTiling? = nil,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?
) {
    let tiles = tiling ?? Im2colTiling(s)
    let col = UnsafeMutablePointer<Float>.allocate(capacity: tiles.columnCapacity)
    defer { col.deallocate() }
    for n in 0..<s.batch {
        let image = input + n * s.height * s.width * s.inChannels
        for r0 in stride(from: 0, to: s.outHeight, by: tiles.rowsPerTile) {
            let r1 = min(s.outHeight, r0 + tiles.rowsPerTile)
            let pixels = (r1 - r0) * s.outWidth
            let gOut = gradOutput + ((n * s.outHeight + r0) * s.outWidth) * s.outChannels
            if let gradWeight {
                im2col(s, image: image, rows: r0..<r1, into: col)
                gemm(transposeA: true, m: s.outChannels, n: s.patchSize, k: pixels,
                     a: gOut, lda: s.outChannels, b: col, ldb: s.patchSize,
                     beta: 1, c: gradWeight, ldc: s.patchSize)
            }
            if let gradInput {
                gemm(m: pixels, n: s.patchSize, k: s.outChannels,
                     a: gOut, lda: s.outChannels, b: weight, ldb: s.patchSize,
                     c: col, ldc: s.patchSize)
                col2imAccumulate(s, columns: col, rows: r0..<r1,
                                 into: gradInput + n * s.height * s.width * s.inChannels)
            }
        }
    }
}

struct Im2colTiling {
    let rowsPerTile: Int
    let columnCapacity: Int
    init(_ s: Conv2DShape, budget: Int = im2colColumnBudget) {
        let rowFloats = s.outWidth * s.patchSize
        rowsPerTile = max(1, min(s.outHeight, budget / rowFloats))
        columnCapacity = rowsPerTile * rowFloats
    }
}

/// Fills col[(oy - rows.lowerBound)·Wo + ox, (kh, kw, ci)] for the output rows `rows` of one image.
func im2col(_ s: Conv2DShape, image: UnsafePointer<Float>, rows: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    let cin = s.inChannels, wo = s.outWidth, k = s.patchSize
    let pixels = rows.count * wo
    parallelChunks(pixels, minimumPerThread: max(1, 16384 / k)) { range in
        for p in range {
            let oy = rows.lowerBound + p / wo, ox = p % wo
            var dst = col + p * k
            for kh in 0..<s.kernelH {
                let iy = oy * s.stride - s.padding + kh
                if iy < 0 || iy >= s.height {
                    dst.update(repeating: 0, count: s.kernelW * cin)
                    dst += s.kernelW * cin
                    continue
                }
                for kw in 0..<s.kernelW {
                    let ix = ox * s.stride - s.padding + kw
                    if ix < 0 || ix >= s.width {
                        dst.update(repeating: 0, count: cin)
                    } else {
                        dst.update(from: image + (iy * s.width + ix) * cin, count: cin)
                    }
                    dst += cin
                }
            }
        }
    }
}

/// gradImage += col2im(columns) for the output rows `rows`. Written as a gather over input
/// pixels (each thread owns whole input rows), so threads never add into the same place.
func col2imAccumulate(_ s: Conv2DShape, columns: UnsafePointer<Float>, rows: Range<Int>,
                      into gradImage: UnsafeMutablePointer<Float>) {
    let cin = s.inChannels, wo = s.outWidth, k = s.patchSize
    let firstInputRow = max(0, rows.lowerBound * s.stride - s.padding)
    let lastInputRow = min(s.height - 1, (rows.upperBound - 1) * s.stride - s.padding + s.kernelH - 1)
    guard firstInputRow <= lastInputRow else { return }
    parallelChunks(lastInputRow - firstInputRow + 1, minimumPerThread: 1) { band in
        for iyOffset in band {
            let iy = firstInputRow + iyOffset
            for kh in 0..<s.kernelH {
                let oyScaled = iy + s.padding - kh
                guard oyScaled >= 0, oyScaled % s.stride == 0 else { continue }
                let oy = oyScaled / s.stride
                guard rows.contains(oy) else { continue }
                for ix in 0..<s.width {
                    let dst = gradImage + (iy * s.width + ix) * cin
                    for kw in 0..<s.kernelW {
                        let oxScaled = ix + s.padding - kw
                        guard oxScaled >= 0, oxScaled % s.stride == 0 else { continue }
                        let ox = oxScaled / s.stride
                        guard ox < wo else { continue }
                        let src = columns + ((oy - rows.lowerBound) * wo + ox) * k + (kh * s.kernelW + kw) * cin
                        for c in 0..<cin { dst[c] += src[c] }
                    }
                }
            }
        }
    }
}
