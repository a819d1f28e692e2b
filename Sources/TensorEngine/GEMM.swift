import COpenBLAS

/// Row-major single-precision GEMM through OpenBLAS:
/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, with leading dimensions in elements.
/// Every matrix product in the engine goes through here, so there is one place to measure.
///
/// Deterministic: the result depends on the operands and the shape only, never on the thread
/// count or the machine's load. OpenBLAS's own threaded sgemm does not give that: its blocking
/// of k differs between its 1- and 2-thread drivers (measured: 1 to 20% of the outputs of the
/// UNet's GEMM shapes differ in the last bits), and the attention kernels used to switch it to
/// one thread around their tile loops, a global setting that raced with any GEMM running at
/// the same moment on another thread (tests run in parallel; same-seed images differed by one
/// level in rare pixels). So OpenBLAS always runs single-threaded, and the engine splits the
/// larger of m and n into a fixed number of parts, chosen from the shape alone, which run on
/// the engine's threads. Measured against OpenBLAS's 2 threads on the UNet's shapes (2 cores):
/// as fast or faster (77×768×768: 4 ms vs 27; 4096×320×2880 conv: 416 ms vs 740 under load).
public func gemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    let plan = GEMMPartition(m: m, n: n, k: k)
    if plan.parts == 1 {
        serialGEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    parallelFor(plan.parts) { part in
        let range = plan.range(part)
        guard !range.isEmpty else { return }
        if plan.alongM {
            // Rows r of op(A): A[r, 0] when not transposed, A[0, r] when it is.
            let aPart = a + range.lowerBound * (transposeA ? 1 : lda)
            serialGEMM(transposeA: transposeA, transposeB: transposeB, m: range.count, n: n, k: k, alpha: alpha,
                       a: aPart, lda: lda, b: b, ldb: ldb, beta: beta, c: c + range.lowerBound * ldc, ldc: ldc)
        } else {
            // Columns j of op(B): B[0, j] when not transposed, B[j, 0] when it is.
            let bPart = b + range.lowerBound * (transposeB ? ldb : 1)
            serialGEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: range.count, k: k, alpha: alpha,
                       a: a, lda: lda, b: bPart, ldb: ldb, beta: beta, c: c + range.lowerBound, ldc: ldc)
        }
    }
}

/// How `gemm` splits a product: `parts` contiguous ranges of rows (alongM) or columns, each a
/// multiple of 16 (OpenBLAS's register tile) except the last. A function of the shape only.
struct GEMMPartition {
    var parts: Int
    var alongM: Bool
    var step: Int
    var length: Int

    /// Multiply-adds below which one thread is as fast (spawning and packing twice cost more).
    static let minimumWorkPerPart = 1 << 21
    /// 4 parts: balanced on 1, 2 or 4 threads; more parts would pack the shared operand more often.
    static let maximumParts = 4

    init(m: Int, n: Int, k: Int) {
        alongM = m >= n
        length = alongM ? m : n
        let work = m * n * max(k, 1)
        var p = 1
        while p < Self.maximumParts && work / (2 * p) >= Self.minimumWorkPerPart && length / (2 * p) >= 32 { p *= 2 }
        parts = p
        step = ((length + p - 1) / p + 15) / 16 * 16
    }

    func range(_ part: Int) -> Range<Int> {
        let start = min(length, part * step)
        return start..<min(length, start + step)
    }
}

/// One OpenBLAS call on the calling thread. For kernels that already run GEMMs from their own
/// parallel loops (attention's tiles).
func serialGEMM(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    _ = blasIsSingleThreaded
    cblas_sgemm(
        CblasRowMajor,
        transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k),
        alpha, a, blasint(lda), b, blasint(ldb),
        beta, c, blasint(ldc)
    )
}

/// Set once, before the first GEMM, and never changed: see `gemm`.
private let blasIsSingleThreaded: Void = openblas_set_num_threads(1)

/// Kept for source compatibility. OpenBLAS always runs on one thread (see `gemm`); the GEMMs
/// run on `EngineThreads.count` threads, so this sets nothing but keeps OpenBLAS at one.
public func setBLASThreads(_ n: Int) {
    _ = n
    _ = blasIsSingleThreaded
    openblas_set_num_threads(1)
}
