// Stride-1 3x3 convolution forward by Winograd's minimal filtering F(2x2, 3x3).
//
// Each 2x2 block of output pixels ("tile") is computed from the 4x4 input patch around it as
//     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
// with g the 3x3 kernel, d the 4x4 patch, ⊙ elementwise. Summed over input channels, the
// elementwise product at each of the 16 positions ξ is a matrix product over channels:
//     M_ξ[tile, co] = Σ_ci V_ξ[tile, ci] · U_ξ[co, ci]
// so the convolution becomes 16 GEMMs with k = Cin on a quarter of the pixels: 16 multiply-adds
// per 4 outputs per channel pair instead of 36, 2.25x fewer than the shifted-tap GEMMs.
//
// Work is split into blocks of tiles (a size chosen from the shape only, so the result does
// not depend on the thread count): each thread transforms a block's input patches into
// V [16, T, Cin], runs the 16 GEMMs into M [16, T, Cout] on OpenBLAS (single-threaded), and
// transforms M back into output pixels. Scratch stays a few MB whatever the image size.
//
// Accuracy: the transforms only add and halve, but the GEMMs sum transformed values that are
// up to ~4x the inputs' magnitude and cancel afterwards, so rounding errors are a few times
// those of the direct sum: relative to the output's scale, within ~1e-6 (tested against the
// shifted-tap GEMMs at 2e-5 relative to the output's largest magnitude). F(4x4, 3x3) would cut
// multiplies another 1.8x but its transform constants (±1/4, ±1/6, ±1/24...) cost ~2 digits.
//
// The input gradient is the same computation: a stride-1 correlation of the output gradient
// (padded by 2 − p) with the kernel flipped and its channel axes swapped. Flipping the kernel
// only permutes the 16 transformed positions (G's first and last rows swap, the middle two are
// symmetric), and swapping the channel axes is the GEMM reading U untransposed, so it reuses
// the forward's weight transform. The weight gradient stays on the shifted taps.

/// Tiles per block: at least 32, at most 256, and about a quarter of the work so that two
/// threads each get blocks on a single small image. Shape only, for determinism.
func winogradTilesPerBlock(totalTiles: Int) -> Int {
    let quarter = ((totalTiles + 3) / 4 + 15) / 16 * 16
    return min(256, max(32, quarter))
}

func conv2dForwardWinograd(
    _ s: Conv2DShape,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>
) {
    precondition(s.stride == 1 && s.kernelH == 3 && s.kernelW == 3, "Winograd F(2x2,3x3) needs a 3x3 stride-1 conv, got \(s)")
    let uBytes = 16 * s.outChannels * s.inChannels * 4
    let u = EngineMemory.allocate(bytes: uBytes).assumingMemoryBound(to: Float.self)
    defer { EngineMemory.release(UnsafeMutableRawPointer(u), bytes: uBytes) }
    winogradWeightTransform(weight, cout: s.outChannels, cin: s.inChannels, into: u)
    winogradCorrelate(s, input: input, u: u, flipped: false, bias: bias, output: output, accumulate: false)
}

/// gradInput [N, H, W, Cin] += the input gradient of the 3x3 stride-1 conv `s` (padding ≤ 2)
/// for gradOutput [N, Ho, Wo, Cout].
func conv2dBackwardInputWinograd(
    _ s: Conv2DShape, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>
) {
    precondition(s.stride == 1 && s.kernelH == 3 && s.kernelW == 3 && s.padding <= 2,
                 "Winograd input gradient needs a 3x3 stride-1 conv with padding ≤ 2, got \(s)")
    let uBytes = 16 * s.outChannels * s.inChannels * 4
    let u = EngineMemory.allocate(bytes: uBytes).assumingMemoryBound(to: Float.self)
    defer { EngineMemory.release(UnsafeMutableRawPointer(u), bytes: uBytes) }
    winogradWeightTransform(weight, cout: s.outChannels, cin: s.inChannels, into: u)
    // The correlation that gives the input gradient: over the output grid, Cout → Cin channels.
    let backward = Conv2DShape(batch: s.batch, height: s.outHeight, width: s.outWidth, inChannels: s.outChannels,
                               outChannels: s.inChannels, kernelH: 3, kernelW: 3, padding: 2 - s.padding)
    precondition(backward.outHeight == s.height && backward.outWidth == s.width)
    winogradCorrelate(backward, input: gradOutput, u: u, flipped: true, bias: nil, output: gradInput, accumulate: true)
}

/// The tiled Winograd correlation of `input` under geometry `s` with transformed weights `u`
/// ([16, s.outChannels, s.inChannels] planes; when `flipped`, u holds the transform of the
/// kernel this correlation flips, stored [16, s.inChannels, s.outChannels]). Writes, or with
/// `accumulate` adds to, `output`.
func winogradCorrelate(
    _ s: Conv2DShape, input: UnsafePointer<Float>, u: UnsafePointer<Float>, flipped: Bool,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, accumulate: Bool
) {
    let cin = s.inChannels, cout = s.outChannels
    let ho = s.outHeight, wo = s.outWidth
    let tilesH = (ho + 1) / 2, tilesW = (wo + 1) / 2
    let tilesPerImage = tilesH * tilesW
    let totalTiles = s.batch * tilesPerImage
    let blockTiles = winogradTilesPerBlock(totalTiles: totalTiles)
    let blocks = (totalTiles + blockTiles - 1) / blockTiles
    // A flipped kernel's transform is the original's with rows and columns 0 ↔ 3 swapped.
    let swap = [3, 1, 2, 0]

    let parts = min(EngineThreads.count, blocks)
    let vBytes = 16 * blockTiles * cin * 4, mBytes = 16 * blockTiles * cout * 4
    parallelPartitions(blocks, parts: parts) { _, range in
        let v = EngineMemory.allocate(bytes: vBytes).assumingMemoryBound(to: Float.self)
        let m = EngineMemory.allocate(bytes: mBytes).assumingMemoryBound(to: Float.self)
        defer {
            EngineMemory.release(UnsafeMutableRawPointer(v), bytes: vBytes)
            EngineMemory.release(UnsafeMutableRawPointer(m), bytes: mBytes)
        }
        for block in range {
            let first = block * blockTiles
            let count = min(blockTiles, totalTiles - first)
            for t in 0..<count {
                let tile = first + t
                let n = tile / tilesPerImage, r = tile % tilesPerImage
                winogradInputTile(s, image: input + n * s.height * s.width * cin,
                                  y0: 2 * (r / tilesW) - s.padding, x0: 2 * (r % tilesW) - s.padding,
                                  into: v + t * cin, positionStride: blockTiles * cin)
            }
            for xi in 0..<16 {
                if flipped {
                    let plane = swap[xi / 4] * 4 + swap[xi % 4]
                    // M[t, co] = Σ_ci V[t, ci] · U[ci, co]: u's plane is [cin, cout] here.
                    serialGEMM(m: count, n: cout, k: cin,
                               a: v + xi * blockTiles * cin, lda: cin,
                               b: u + plane * cout * cin, ldb: cout,
                               c: m + xi * blockTiles * cout, ldc: cout)
                } else {
                    serialGEMM(transposeB: true, m: count, n: cout, k: cin,
                               a: v + xi * blockTiles * cin, lda: cin,
                               b: u + xi * cout * cin, ldb: cin,
                               c: m + xi * blockTiles * cout, ldc: cout)
                }
            }
            for t in 0..<count {
                let tile = first + t
                let n = tile / tilesPerImage, r = tile % tilesPerImage
                winogradOutputTile(m + t * cout, positionStride: blockTiles * cout, cout: cout, bias: bias,
                                   output: output + n * ho * wo * cout, height: ho, width: wo,
                                   y0: 2 * (r / tilesW), x0: 2 * (r % tilesW), accumulate: accumulate)
            }
        }
    }
}

/// U_ξ[co, ci] = (G g Gᵀ)_ξ for every channel pair, from weight [Cout, 3, 3, Cin];
/// G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]. Written as [16, Cout, Cin].
func winogradWeightTransform(_ weight: UnsafePointer<Float>, cout: Int, cin: Int, into u: UnsafeMutablePointer<Float>) {
    let plane = cout * cin
    parallelChunks(cout, minimumPerThread: max(1, 4096 / cin)) { rows in
        for co in rows {
            let w = weight + co * 9 * cin
            let out = u + co * cin
            for c in stride(from: 0, to: cin, by: 8) {
                @inline(__always) func g(_ kh: Int, _ kw: Int) -> Vec8 { loadVec(w + (kh * 3 + kw) * cin, c, cin) }
                // One column j of G g (over kernel rows), then a row of (G g) Gᵀ (over kernel columns).
                @inline(__always) func gColumn(_ kw: Int) -> (Vec8, Vec8, Vec8, Vec8) {
                    let g0 = g(0, kw), g1 = g(1, kw), g2 = g(2, kw)
                    return (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
                }
                let c0 = gColumn(0), c1 = gColumn(1), c2 = gColumn(2)
                @inline(__always) func storeRow(_ row: Int, _ a: Vec8, _ b: Vec8, _ d: Vec8) {
                    storeVec(a, out + (row * 4 + 0) * plane, c, cin)
                    storeVec(0.5 * (a + b + d), out + (row * 4 + 1) * plane, c, cin)
                    storeVec(0.5 * (a - b + d), out + (row * 4 + 2) * plane, c, cin)
                    storeVec(d, out + (row * 4 + 3) * plane, c, cin)
                }
                storeRow(0, c0.0, c1.0, c2.0)
                storeRow(1, c0.1, c1.1, c2.1)
                storeRow(2, c0.2, c1.2, c2.2)
                storeRow(3, c0.3, c1.3, c2.3)
            }
        }
    }
}

/// V_ξ = (Bᵀ d B)_ξ for the 4x4 patch whose top-left input pixel is (y0, x0) (outside the
/// image reads zero: the padding), every channel; Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0],
/// [0, −1, 1, 0], [0, 1, 0, −1]]. Position ξ goes to `into + ξ · positionStride`.
@inline(__always)
func winogradInputTile(_ s: Conv2DShape, image: UnsafePointer<Float>, y0: Int, x0: Int,
                       into v: UnsafeMutablePointer<Float>, positionStride: Int) {
    let cin = s.inChannels
    // Row pointers of the patch (nil outside the image) and which columns are inside.
    var rowInside = SIMD4<Int32>(), colInside = SIMD4<Int32>()
    for i in 0..<4 {
        rowInside[i] = (y0 + i >= 0 && y0 + i < s.height) ? 1 : 0
        colInside[i] = (x0 + i >= 0 && x0 + i < s.width) ? 1 : 0
    }
    let interior = rowInside == SIMD4(repeating: 1) && colInside == SIMD4(repeating: 1)
    for c in stride(from: 0, to: cin, by: 8) {
        // d[i][j]: input pixel (y0 + i, x0 + j), channels c ..< c + 8.
        @inline(__always) func load(_ i: Int, _ j: Int) -> Vec8 {
            if !interior && (rowInside[i] == 0 || colInside[j] == 0) { return Vec8() }
            return loadVec(image + ((y0 + i) * s.width + x0 + j) * cin, c, cin)
        }
        let d0 = (load(0, 0), load(0, 1), load(0, 2), load(0, 3))
        let d1 = (load(1, 0), load(1, 1), load(1, 2), load(1, 3))
        let d2 = (load(2, 0), load(2, 1), load(2, 2), load(2, 3))
        let d3 = (load(3, 0), load(3, 1), load(3, 2), load(3, 3))
        // Bᵀ d: combine rows.
        let t0 = (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3)
        let t1 = (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3)
        let t2 = (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3)
        let t3 = (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3)
        // (Bᵀ d) B: combine columns, and store position ξ = 4·row + column.
        @inline(__always) func storeRow(_ t: (Vec8, Vec8, Vec8, Vec8), _ row: Int) {
            storeVec(t.0 - t.2, v + (row * 4 + 0) * positionStride, c, cin)
            storeVec(t.1 + t.2, v + (row * 4 + 1) * positionStride, c, cin)
            storeVec(t.2 - t.1, v + (row * 4 + 2) * positionStride, c, cin)
            storeVec(t.1 - t.3, v + (row * 4 + 3) * positionStride, c, cin)
        }
        storeRow(t0, 0); storeRow(t1, 1); storeRow(t2, 2); storeRow(t3, 3)
    }
}

/// Y = Aᵀ M A (+ bias) for one tile, Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]; writes (or with
/// `accumulate` adds to) the 2x2 output pixels from (y0, x0) inside the [height, width] image.
@inline(__always)
func winogradOutputTile(_ m: UnsafePointer<Float>, positionStride: Int, cout: Int, bias: UnsafePointer<Float>?,
                        output: UnsafeMutablePointer<Float>, height: Int, width: Int, y0: Int, x0: Int, accumulate: Bool) {
    let rows = min(2, height - y0), cols = min(2, width - x0)
    for c in stride(from: 0, to: cout, by: 8) {
        @inline(__always) func at(_ xi: Int) -> Vec8 { loadVec(m + xi * positionStride, c, cout) }
        let m0 = (at(0), at(1), at(2), at(3)), m1 = (at(4), at(5), at(6), at(7))
        let m2 = (at(8), at(9), at(10), at(11)), m3 = (at(12), at(13), at(14), at(15))
        // Aᵀ M: two rows of four.
        let s0 = (m0.0 + m1.0 + m2.0, m0.1 + m1.1 + m2.1, m0.2 + m1.2 + m2.2, m0.3 + m1.3 + m2.3)
        let s1 = (m1.0 - m2.0 - m3.0, m1.1 - m2.1 - m3.1, m1.2 - m2.2 - m3.2, m1.3 - m2.3 - m3.3)
        let b = bias.map { loadVec($0, c, cout) } ?? Vec8()
        let y00 = s0.0 + s0.1 + s0.2 + b, y01 = s0.1 - s0.2 - s0.3 + b
        let y10 = s1.0 + s1.1 + s1.2 + b, y11 = s1.1 - s1.2 - s1.3 + b
        @inline(__always) func put(_ y: Vec8, _ dy: Int, _ dx: Int) {
            let p = output + ((y0 + dy) * width + x0 + dx) * cout
            storeVec(accumulate ? y + loadVec(p, c, cout) : y, p, c, cout)
        }
        put(y00, 0, 0)
        if cols > 1 { put(y01, 0, 1) }
        if rows > 1 {
            put(y10, 1, 0)
            if cols > 1 { put(y11, 1, 1) }
        }
    }
}
