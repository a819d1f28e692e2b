import Foundation
import Testing
@testable import TensorEngine

/// The vector exp/erf/tanh against libm (in Double) over the ranges activations see.
@Suite struct VectorMathTests {
    private func worstError(_ f: (Vec8) -> Vec8, _ reference: (Double) -> Double, from: Float, to: Float, relative: Bool) -> Double {
        var worst = 0.0
        var x = from
        while x < to {
            var v = Vec8()
            for k in 0..<8 { v[k] = x + Float(k) * 0.0007 }
            let y = f(v)
            for k in 0..<8 {
                let r = reference(Double(v[k]))
                let e = abs(Double(y[k]) - r) / (relative ? abs(r) : 1)
                worst = max(worst, e)
            }
            x += 8 * 0.0007
        }
        return worst
    }

    @Test func expIsWithinAFewUlp() {
        #expect(worstError(vexp, Foundation.exp, from: -80, to: 80, relative: true) < 4e-7)
    }

    @Test func tanhIsWithin3e7() {
        #expect(worstError(vtanh, Foundation.tanh, from: -10, to: 10, relative: false) < 3e-7)
    }

    /// GELU's erf: about one float32 ulp of values near 1 (scripts/fixtures/fit_erf.py fits it).
    @Test func erfIsWithin1Point5e7() {
        #expect(worstError(verf, Foundation.erf, from: -8, to: 8, relative: false) < 1.5e-7)
        #expect(worstError(verf, Foundation.erf, from: -0.8, to: 0.8, relative: false) < 1.2e-7)
    }
}

/// The vector float16 → float32 widening against Swift's own conversion, for every bit pattern.
@Suite struct Float16WideningTests {
    @Test func everyBitPatternWidensExactly() {
        var mismatches = 0
        for start in stride(from: 0, to: 65536, by: 8) {
            let h = SIMD8<UInt32>((0..<8).map { UInt32(start + $0) })
            let wide = widenFloat16(h)
            for k in 0..<8 {
                let expected = Float(Float16(bitPattern: UInt16(start + k)))
                let same = expected.isNaN ? wide[k].isNaN : wide[k].bitPattern == expected.bitPattern
                if !same { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func tensorFromFloat16BitsMatchesScalarConversion() {
        // 8-lane body and a scalar tail (19 values).
        let halves: [Float16] = (0..<19).map { Float16(Float($0) * 0.37 - 3) }
        let bits = halves.map(\.bitPattern)
        let t = bits.withUnsafeBytes { Tensor(float16Bits: $0.baseAddress!, shape: [19]) }
        #expect(t.scalars == halves.map { Float($0) })
    }
}
