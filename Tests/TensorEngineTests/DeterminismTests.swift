import Dispatch
import Testing
@testable import TensorEngine

/// Same inputs, same bits: however busy the machine is and whatever else runs in the process.
@Suite struct DeterminismTests {
    /// Values in [-1, 1) from a fixed-seed generator.
    private func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    private func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    gemm(transposeB: true, m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: k,
                         c: c.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }

    /// The old failure: attention switched OpenBLAS to one thread around its tile loop, and a
    /// GEMM running meanwhile on another thread came out with other rounding. Attention now
    /// runs beside GEMMs (and setBLASThreads is called) without changing their bits.
    @Test func gemmBitsDoNotDependOnWhatElseRuns() {
        let (m, n, k) = (300, 256, 320)   // large enough to be split over threads
        let a = values(m * k, seed: 1), b = values(n * k, seed: 2)
        let reference = product(a, b, m: m, n: n, k: k)

        let shape = AttentionShape(batch: 1, heads: 4, queryLength: 512, keyLength: 512, headDim: 32)
        let q = Tensor(values(512 * 128, seed: 3), shape: [512, 128]), kv = Tensor(values(512 * 128, seed: 4), shape: [512, 128])
        let out = Tensor(zeros: [512, 128]), lse = Tensor(zeros: [4, 512])
        let mismatches = Counter()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            if worker == 0 {
                for _ in 0..<6 {
                    attentionForward(shape, q: q.data, k: kv.data, v: kv.data, out: out.data, logSumExp: lse.data)
                }
                setBLASThreads(2)
            } else {
                for _ in 0..<12 where product(a, b, m: m, n: n, k: k) != reference { mismatches.add() }
            }
        }
        #expect(mismatches.value == 0)
        #expect(product(a, b, m: m, n: n, k: k) == reference)
    }

    /// Written by one thread, read after it is joined.
    private final class Counter: @unchecked Sendable {
        private(set) var value = 0
        func add() { value += 1 }
    }

    /// The split depends on the shape alone: parts are whole 16-row tiles covering every row.
    @Test func gemmPartitionCoversTheShape() {
        for (m, n, k) in [(4096, 320, 2880), (77, 768, 768), (16, 16, 16), (1000, 3, 5000), (50, 4000, 900)] {
            let plan = GEMMPartition(m: m, n: n, k: k)
            let covered = (0..<plan.parts).map { plan.range($0) }
            #expect(covered.first?.lowerBound == 0)
            #expect(covered.last?.upperBound == (plan.alongM ? m : n))
            for (x, y) in zip(covered, covered.dropFirst()) { #expect(x.upperBound == y.lowerBound) }
            #expect(covered.dropLast().allSatisfy { $0.count % 16 == 0 })
        }
        #expect(GEMMPartition(m: 4096, n: 320, k: 2880).parts == GEMMPartition.maximumParts)
        #expect(GEMMPartition(m: 16, n: 16, k: 16).parts == 1)
    }
}
