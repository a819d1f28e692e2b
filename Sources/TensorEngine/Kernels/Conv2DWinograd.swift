// Stride-1 3x3 convolution forward by Winograd's minimal filtering, F(2x2, 3x3) or F(4x4, 3x3).
//
// Each m×m block of output pixels ("tile", m = 2 or 4) is computed from the (m+2)×(m+2) input
// patch d around it as
//     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
// with g the 3x3 kernel, ⊙ elementwise. Summed over input channels, the elementwise product at
// each of the (m+2)² positions ξ is a matrix product over channels:
//     M_ξ[tile, co] = Σ_ci V_ξ[tile, ci] · U_ξ[co, ci]
// so the convolution becomes (m+2)² GEMMs with k = Cin on 1/m² of the pixels. Multiply-adds per
// output pixel and channel pair: 9 for the direct sum, 4 for F(2x2) (16 per 4 pixels), 2.25 for
// F(4x4) (36 per 16 pixels).
//
// Work is split into blocks of tiles (a size chosen from the shape only, so the result does
// not depend on the thread count): each thread transforms a block's input patches into
// V [P, T, Cin], runs the P GEMMs into M [P, T, Cout] on OpenBLAS (single-threaded), and
// transforms M back into output pixels. Scratch stays a few MB per thread whatever the image.
//
// Which tile: F(4x4) needs maps large enough that a block still has tens of tiles for the
// GEMMs (a 16x16 map has only 16 tiles of 4x4 per image), see `WinogradTile.for(_:)`.
//
// Accuracy: F(2x2)'s transforms only add and halve; its GEMMs sum values up to ~4x the inputs
// and cancel afterwards, so rounding errors are a few times the direct sum's (~1e-6 of the
// output's scale). F(4x4)'s transforms scale by up to ~100x (Bᵀ's 4s and 5s, Aᵀ's 8s) and
// divide by 24 in G, so its error is some 30x larger: measured on the test shapes, up to 6.9e-6
// of the output's largest magnitude against 2.3e-7 for F(2x2) (Conv2DWinogradTests). Training
// with a few parts per million of noise in the convolutions is no different (the learning
// tests run on it).
//
// The input gradient is the same computation: a stride-1 correlation of the output gradient
// (padded by 2 − p) with the kernel flipped and its channel axes swapped. The weight transform
// reads the kernel flipped, and swapping the channel axes is the GEMM reading U untransposed.
// The weight gradient stays on the shifted taps.

/// The output tile of a Winograd convolution: 2x2 or 4x4 pixels.
enum WinogradTile: Int, Sendable {
    case two = 2
    case four = 4

    var side: Int { rawValue }
    /// Side of the input patch, and of the transformed tile.
    var patchSide: Int { rawValue + 2 }
    /// Transformed positions ξ: one GEMM each.
    var positions: Int { patchSide * patchSide }

    /// F(4x4) where a map has at least 32x32 output pixels (64 tiles per image), F(2x2) below.
    /// Measured forward, 1280 channels @16², 2 threads: F(4x4) 56.0 ms, F(2x2) 31.7 ms (16 tiles
    /// per image are too few for the 36 GEMMs, and its weight transform is 2.25x larger).
    static func `for`(_ s: Conv2DShape) -> WinogradTile {
        s.outHeight >= 32 && s.outWidth >= 32 ? .four : .two
    }
}

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
    precondition(s.stride == 1 && s.kernelH == 3 && s.kernelW == 3, "Winograd needs a 3x3 stride-1 conv, got \(s)")
    let tile = WinogradTile.for(s)
    let uBytes = tile.positions * s.outChannels * s.inChannels * 4
    let u = EngineMemory.allocate(bytes: uBytes).assumingMemoryBound(to: Float.self)
    defer { EngineMemory.release(UnsafeMutableRawPointer(u), bytes: uBytes) }
    winogradWeightTransform(tile, weight, cout: s.outChannels, cin: s.inChannels, flipped: false, into: u)
    winogradCorrelate(s, tile: tile, input: input, u: u, channelsSwapped: false, bias: bias, output: output, accumulate: false)
}

/// gradInput [N, H, W, Cin] += the input gradient of the 3x3 stride-1 conv `s` (padding ≤ 2)
/// for gradOutput [N, Ho, Wo, Cout].
func conv2dBackwardInputWinograd(
    _ s: Conv2DShape, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>
) {
    precondition(s.stride == 1 && s.kernelH == 3 && s.kernelW == 3 && s.padding <= 2,
                 "Winograd input gradient needs a 3x3 stride-1 conv with padding ≤ 2, got \(s)")
    // The correlation that gives the input gradient: over the output grid, Cout → Cin channels.
    let backward = Conv2DShape(batch: s.batch, height: s.outHeight, width: s.outWidth, inChannels: s.outChannels,
                               outChannels: s.inChannels, kernelH: 3, kernelW: 3, padding: 2 - s.padding)
    precondition(backward.outHeight == s.height && backward.outWidth == s.width)
    let tile = WinogradTile.for(backward)
    let uBytes = tile.positions * s.outChannels * s.inChannels * 4
    let u = EngineMemory.allocate(bytes: uBytes).assumingMemoryBound(to: Float.self)
    defer { EngineMemory.release(UnsafeMutableRawPointer(u), bytes: uBytes) }
    winogradWeightTransform(tile, weight, cout: s.outChannels, cin: s.inChannels, flipped: true, into: u)
    winogradCorrelate(backward, tile: tile, input: gradOutput, u: u, channelsSwapped: true, bias: nil,
                      output: gradInput, accumulate: true)
}

/// The tiled Winograd correlation of `input` under geometry `s` with transformed weights `u`:
/// [P, s.outChannels, s.inChannels] planes, or with `channelsSwapped` [P, s.inChannels,
/// s.outChannels] (the forward conv's weights, used for its input gradient). Writes, or with
/// `accumulate` adds to, `output`.
func winogradCorrelate(
    _ s: Conv2DShape, tile: WinogradTile, input: UnsafePointer<Float>, u: UnsafePointer<Float>, channelsSwapped: Bool,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, accumulate: Bool
) {
    let cin = s.inChannels, cout = s.outChannels
    let ho = s.outHeight, wo = s.outWidth, side = tile.side, positions = tile.positions
    let tilesH = (ho + side - 1) / side, tilesW = (wo + side - 1) / side
    let tilesPerImage = tilesH * tilesW
    let totalTiles = s.batch * tilesPerImage
    let blockTiles = winogradTilesPerBlock(totalTiles: totalTiles)
    let blocks = (totalTiles + blockTiles - 1) / blockTiles

    let parts = min(EngineThreads.count, blocks)
    let vBytes = positions * blockTiles * cin * 4, mBytes = positions * blockTiles * cout * 4
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
                let index = first + t
                let n = index / tilesPerImage, r = index % tilesPerImage
                let patch = WinogradPatch(shape: s, image: input + n * s.height * s.width * cin,
                                          y0: side * (r / tilesW) - s.padding, x0: side * (r % tilesW) - s.padding)
                switch tile {
                case .two: winogradInputTile2(patch, into: v + t * cin, positionStride: blockTiles * cin)
                case .four: winogradInputTile4(patch, into: v + t * cin, positionStride: blockTiles * cin)
                }
            }
            for xi in 0..<positions {
                if channelsSwapped {
                    // M[t, co] = Σ_ci V[t, ci] · U[ci, co]: u's plane is [cin, cout] here.
                    serialGEMM(m: count, n: cout, k: cin,
                               a: v + xi * blockTiles * cin, lda: cin,
                               b: u + xi * cout * cin, ldb: cout,
                               c: m + xi * blockTiles * cout, ldc: cout)
                } else {
                    serialGEMM(transposeB: true, m: count, n: cout, k: cin,
                               a: v + xi * blockTiles * cin, lda: cin,
                               b: u + xi * cout * cin, ldb: cin,
                               c: m + xi * blockTiles * cout, ldc: cout)
                }
            }
            for t in 0..<count {
                let index = first + t
                let n = index / tilesPerImage, r = index % tilesPerImage
                let target = WinogradOutput(image: output + n * ho * wo * cout, height: ho, width: wo, channels: cout,
                                            y0: side * (r / tilesW), x0: side * (r % tilesW), bias: bias, accumulate: accumulate)
                switch tile {
                case .two: winogradOutputTile2(m + t * cout, positionStride: blockTiles * cout, target)
                case .four: winogradOutputTile4(m + t * cout, positionStride: blockTiles * cout, target)
                }
            }
        }
    }
}

// MARK: - Weight transform: U = G g Gᵀ

/// U_ξ[co, ci] = (G g Gᵀ)_ξ for every channel pair, from weight [Cout, 3, 3, Cin] (read with
/// the kernel rotated by 180° when `flipped`). Written as [P, Cout, Cin].
///   F(2x2): G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
///   F(4x4): G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]
func winogradWeightTransform(_ tile: WinogradTile, _ weight: UnsafePointer<Float>, cout: Int, cin: Int, flipped: Bool,
                             into u: UnsafeMutablePointer<Float>) {
    let plane = cout * cin, patchSide = tile.patchSide
    parallelChunks(cout, minimumPerThread: max(1, 4096 / cin)) { rows in
        for co in rows {
            let w = weight + co * 9 * cin
            let out = u + co * cin
            for c in stride(from: 0, to: cin, by: 8) {
                @inline(__always) func g(_ kh: Int, _ kw: Int) -> Vec8 {
                    flipped ? loadVec(w + ((2 - kh) * 3 + 2 - kw) * cin, c, cin) : loadVec(w + (kh * 3 + kw) * cin, c, cin)
                }
                @inline(__always) func store(_ value: Vec8, _ row: Int, _ column: Int) {
                    storeVec(value, out + (row * patchSide + column) * plane, c, cin)
                }
                switch tile {
                case .two:
                    // One column of G g (over kernel rows), then the rows of (G g) Gᵀ (over kernel columns).
                    let c0 = gTimes2(g(0, 0), g(1, 0), g(2, 0)), c1 = gTimes2(g(0, 1), g(1, 1), g(2, 1))
                    let c2 = gTimes2(g(0, 2), g(1, 2), g(2, 2))
                    for row in 0..<4 {
                        let r = gTimes2(c0[row], c1[row], c2[row])
                        for column in 0..<4 { store(r[column], row, column) }
                    }
                case .four:
                    let c0 = gTimes4(g(0, 0), g(1, 0), g(2, 0)), c1 = gTimes4(g(0, 1), g(1, 1), g(2, 1))
                    let c2 = gTimes4(g(0, 2), g(1, 2), g(2, 2))
                    for row in 0..<6 {
                        let r = gTimes4(c0[row], c1[row], c2[row])
                        for column in 0..<6 { store(r[column], row, column) }
                    }
                }
            }
        }
    }
}

/// G·(g0, g1, g2) of F(2x2, 3x3).
@inline(__always)
private func gTimes2(_ g0: Vec8, _ g1: Vec8, _ g2: Vec8) -> InlineArray<4, Vec8> {
    [g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2]
}

/// G·(g0, g1, g2) of F(4x4, 3x3).
@inline(__always)
private func gTimes4(_ g0: Vec8, _ g1: Vec8, _ g2: Vec8) -> InlineArray<6, Vec8> {
    let even = g0 + g2
    let quarter = (1.0 / 24) * (g0 + 4 * g2), twelfth = (1.0 / 12) * g1
    return [0.25 * g0, (-1.0 / 6) * (even + g1), (-1.0 / 6) * (even - g1), quarter + twelfth, quarter - twelfth, g2]
}

// MARK: - Input transform: V = Bᵀ d B

/// The input patch of one tile: top-left pixel (y0, x0) of one image; outside it reads zero
/// (the padding).
struct WinogradPatch {
    let shape: Conv2DShape
    let image: UnsafePointer<Float>
    let y0: Int, x0: Int

    /// Whether the whole `side`×`side` patch lies inside the image (no bounds checks needed).
    @inline(__always) func interior(side: Int) -> Bool {
        y0 >= 0 && x0 >= 0 && y0 + side <= shape.height && x0 + side <= shape.width
    }

    /// Pixel (y0 + i, x0 + j), channels c ..< c + 8 (zero outside the image).
    @inline(__always) func load(_ i: Int, _ j: Int, _ c: Int, interior: Bool) -> Vec8 {
        let y = y0 + i, x = x0 + j
        if !interior && (y < 0 || y >= shape.height || x < 0 || x >= shape.width) { return Vec8() }
        return loadVec(image + (y * shape.width + x) * shape.inChannels, c, shape.inChannels)
    }
}

/// F(2x2): Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]] applied to (d0…d3).
@inline(__always)
private func bTranspose2(_ d: InlineArray<4, Vec8>) -> InlineArray<4, Vec8> {
    [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]
}

/// F(4x4): Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
/// [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]] applied to (d0…d5).
@inline(__always)
private func bTranspose4(_ d: InlineArray<6, Vec8>) -> InlineArray<6, Vec8> {
    let a = d[4] - 4 * d[2], b = d[3] - 4 * d[1]     // rows 1, 2: a ± b
    let e = d[4] - d[2], f = 2 * (d[3] - d[1])       // rows 3, 4: e ± f
    return [4 * d[0] - 5 * d[2] + d[4], a + b, a - b, e + f, e - f, 4 * d[1] - 5 * d[3] + d[5]]
}

/// V_ξ of F(2x2) for one tile, every channel; position ξ goes to `into + ξ · positionStride`.
@inline(__always)
func winogradInputTile2(_ patch: WinogradPatch, into v: UnsafeMutablePointer<Float>, positionStride: Int) {
    let cin = patch.shape.inChannels, interior = patch.interior(side: 4)
    for c in stride(from: 0, to: cin, by: 8) {
        // Bᵀ d column by column, then (Bᵀ d) B row by row.
        var t = InlineArray<16, Vec8>(repeating: Vec8())
        for j in 0..<4 {
            let column = bTranspose2([patch.load(0, j, c, interior: interior), patch.load(1, j, c, interior: interior),
                                      patch.load(2, j, c, interior: interior), patch.load(3, j, c, interior: interior)])
            for i in 0..<4 { t[i * 4 + j] = column[i] }
        }
        for i in 0..<4 {
            let row = bTranspose2([t[i * 4], t[i * 4 + 1], t[i * 4 + 2], t[i * 4 + 3]])
            for j in 0..<4 { storeVec(row[j], v + (i * 4 + j) * positionStride, c, cin) }
        }
    }
}

/// V_ξ of F(4x4) for one tile, every channel; position ξ goes to `into + ξ · positionStride`.
@inline(__always)
func winogradInputTile4(_ patch: WinogradPatch, into v: UnsafeMutablePointer<Float>, positionStride: Int) {
    let cin = patch.shape.inChannels, interior = patch.interior(side: 6)
    for c in stride(from: 0, to: cin, by: 8) {
        var t = InlineArray<36, Vec8>(repeating: Vec8())
        for j in 0..<6 {
            let column = bTranspose4([patch.load(0, j, c, interior: interior), patch.load(1, j, c, interior: interior),
                                      patch.load(2, j, c, interior: interior), patch.load(3, j, c, interior: interior),
                                      patch.load(4, j, c, interior: interior), patch.load(5, j, c, interior: interior)])
            for i in 0..<6 { t[i * 6 + j] = column[i] }
        }
        for i in 0..<6 {
            let row = bTranspose4([t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5]])
            for j in 0..<6 { storeVec(row[j], v + (i * 6 + j) * positionStride, c, cin) }
        }
    }
}

// MARK: - Output transform: Y = Aᵀ M A

/// Where one tile's output pixels go: the side×side block from (y0, x0) of a [height, width,
/// channels] image, clipped at its edges; written, or with `accumulate` added to what is there.
struct WinogradOutput {
    let image: UnsafeMutablePointer<Float>
    let height: Int, width: Int, channels: Int
    let y0: Int, x0: Int
    let bias: UnsafePointer<Float>?
    let accumulate: Bool

    /// The bias of channels c ..< c + 8 (zero without one): loaded once per channel group.
    @inline(__always) func biasVector(_ c: Int) -> Vec8 {
        bias.map { loadVec($0, c, channels) } ?? Vec8()
    }

    /// Stores output pixel (y0 + dy, x0 + dx), channels c ..< c + 8, bias already added.
    @inline(__always) func put(_ y: Vec8, _ dy: Int, _ dx: Int, _ c: Int) {
        guard y0 + dy < height && x0 + dx < width else { return }
        let p = image + ((y0 + dy) * width + x0 + dx) * channels
        storeVec(accumulate ? y + loadVec(p, c, channels) : y, p, c, channels)
    }
}

/// F(2x2): Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]] applied to (m0…m3).
@inline(__always)
private func aTranspose2(_ m: InlineArray<4, Vec8>) -> InlineArray<2, Vec8> {
    [m[0] + m[1] + m[2], m[1] - m[2] - m[3]]
}

/// F(4x4): Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]
/// applied to (m0…m5).
@inline(__always)
private func aTranspose4(_ m: InlineArray<6, Vec8>) -> InlineArray<4, Vec8> {
    let sum12 = m[1] + m[2], difference12 = m[1] - m[2]
    let sum34 = m[3] + m[4], difference34 = m[3] - m[4]
    return [m[0] + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, difference12 + 8 * difference34 + m[5]]
}

@inline(__always)
func winogradOutputTile2(_ m: UnsafePointer<Float>, positionStride: Int, _ target: WinogradOutput) {
    for c in stride(from: 0, to: target.channels, by: 8) {
        @inline(__always) func at(_ xi: Int) -> Vec8 { loadVec(m + xi * positionStride, c, target.channels) }
        var s = InlineArray<8, Vec8>(repeating: Vec8())   // Aᵀ M: 2 rows of 4
        for j in 0..<4 {
            let column = aTranspose2([at(j), at(4 + j), at(8 + j), at(12 + j)])
            s[j] = column[0]; s[4 + j] = column[1]
        }
        let b = target.biasVector(c)
        for i in 0..<2 {
            let row = aTranspose2([s[i * 4], s[i * 4 + 1], s[i * 4 + 2], s[i * 4 + 3]])
            for j in 0..<2 { target.put(row[j] + b, i, j, c) }
        }
    }
}

@inline(__always)
func winogradOutputTile4(_ m: UnsafePointer<Float>, positionStride: Int, _ target: WinogradOutput) {
    for c in stride(from: 0, to: target.channels, by: 8) {
        @inline(__always) func at(_ xi: Int) -> Vec8 { loadVec(m + xi * positionStride, c, target.channels) }
        var s = InlineArray<24, Vec8>(repeating: Vec8())   // Aᵀ M: 4 rows of 6
        for j in 0..<6 {
            let column = aTranspose4([at(j), at(6 + j), at(12 + j), at(18 + j), at(24 + j), at(30 + j)])
            for i in 0..<4 { s[i * 6 + j] = column[i] }
        }
        let b = target.biasVector(c)
        for i in 0..<4 {
            let row = aTranspose4([s[i * 6], s[i * 6 + 1], s[i * 6 + 2], s[i * 6 + 3], s[i * 6 + 4], s[i * 6 + 5]])
            for j in 0..<4 { target.put(row[j] + b, i, j, c) }
        }
    }
}
