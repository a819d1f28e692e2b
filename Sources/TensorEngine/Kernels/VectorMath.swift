// Eight-lane float math for the pointwise kernels. libm's expf/erff are scalar calls and
// dominate SiLU/GELU/softmax otherwise; these vector versions are within a few ulp. Built from
// arithmetic and bit operations only: Swift's SIMD compares, `rounded`, `clamped` and
// float↔int conversions are lowered lane by lane and would cost more than libm.

typealias Vec8 = SIMD8<Float>

/// Loads 8 floats from p[i...], or the `n − i` that remain (zero-padded) at the end.
/// The tail is a memcpy into a zeroed vector, inline: an out-of-line tail (a call returning
/// the vector) made LLVM split every loop around it into 4-lane halves, even with AVX2.
@inline(__always) func loadVec(_ p: UnsafePointer<Float>, _ i: Int, _ n: Int) -> Vec8 {
    if i + 8 <= n { return UnsafeRawPointer(p + i).loadUnaligned(as: Vec8.self) }
    var v = Vec8()
    withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p + i, byteCount: (n - i) * 4) }
    return v
}

/// Stores 8 lanes to p[i...], or only the `n − i` that fit.
@inline(__always) func storeVec(_ v: Vec8, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
    if i + 8 <= n { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vec8.self); return }
    withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p + i).copyMemory(from: $0.baseAddress!, byteCount: (n - i) * 4) }
}

/// a·b + c, fused (one rounding, one instruction) when the engine is built for FMA
/// (ENGINE_FMA, set beside -target-cpu haswell in Package.swift). Without hardware FMA,
/// SIMD's addingProduct is a library call per lane, so the portable build multiplies and adds.
@inline(__always) func mulAdd(_ a: Vec8, _ b: Vec8, _ c: Vec8) -> Vec8 {
    #if ENGINE_FMA
    return c.addingProduct(a, b)
    #else
    return a * b + c
    #endif
}

@inline(__always) func mulAdd(_ a: Vec8, _ b: Float, _ c: Float) -> Vec8 { mulAdd(a, Vec8(repeating: b), Vec8(repeating: c)) }
@inline(__always) func mulAdd(_ a: Vec8, _ b: Vec8, _ c: Float) -> Vec8 { mulAdd(a, b, Vec8(repeating: c)) }
@inline(__always) func mulAdd(_ a: Vec8, _ b: Float, _ c: Vec8) -> Vec8 { mulAdd(a, Vec8(repeating: b), c) }

/// max(y, 0) from the sign bit, without a compare: (y + |y|) / 2.
@inline(__always) func vrelu(_ y: Vec8) -> Vec8 {
    (y + unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Vec8.self)) * 0.5
}

/// eˣ: range reduction x = k·ln2 + r (ln2 split in two for exactness), a degree-5 minimax
/// polynomial for eʳ on |r| ≤ ln2/2 (Cephes' coefficients), and 2ᵏ built in the exponent bits.
/// x is clamped to [−87.3, 88.3] (finite results; ~1e-38 at the bottom).
@inline(__always) func vexp(_ x: Vec8) -> Vec8 {
    let above = x + vrelu(-87.3 - x)
    let x = above - vrelu(above - 88.3)
    // Adding 1.5·2²³ rounds to an integer in the low mantissa bits (round to nearest even).
    let magic: Float = 12_582_912
    let shifted = mulAdd(x, 1.442695040888963, magic)
    let k = shifted - magic
    let r = mulAdd(k, 2.12194440e-4, mulAdd(k, -0.693359375, x))
    var p = Vec8(repeating: 1.9875691500e-4)
    p = mulAdd(p, r, 1.3981999507e-3)
    p = mulAdd(p, r, 8.3334519073e-3)
    p = mulAdd(p, r, 4.1665795894e-2)
    p = mulAdd(p, r, 1.6666665459e-1)
    p = mulAdd(p, r, 5.0000001201e-1)
    let e = mulAdd(p, r * r, r) + 1
    let biased = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return e * unsafeBitCast(biased, to: Vec8.self)
}

/// All-ones lanes where x < 0, zero elsewhere (the sign bit spread by an arithmetic shift).
@inline(__always) func negativeMask(_ x: Vec8) -> SIMD8<UInt32> {
    SIMD8<UInt32>(truncatingIfNeeded: unsafeBitCast(x, to: SIMD8<Int32>.self) &>> 31)
}

/// a where mask is set, b elsewhere.
@inline(__always) func select(_ mask: SIMD8<UInt32>, _ a: Vec8, _ b: Vec8) -> Vec8 {
    let ab = unsafeBitCast(a, to: SIMD8<UInt32>.self), bb = unsafeBitCast(b, to: SIMD8<UInt32>.self)
    return unsafeBitCast((ab & mask) | (bb & ~mask), to: Vec8.self)
}

@inline(__always) func vsigmoid(_ x: Vec8) -> Vec8 { 1 / (1 + vexp(-x)) }

/// tanh via e^(2x): 1 − 2/(e^(2x) + 1). Absolute error ~1e-7 (enough for GELU's 1 + tanh).
@inline(__always) func vtanh(_ x: Vec8) -> Vec8 { 1 - 2 / (vexp(2 * x) + 1) }

/// erf, branch-free over two ranges (coefficients fitted to float64 erf by least squares on
/// Chebyshev nodes by scripts/fixtures/fit_erf.py; absolute error ~1e-7 in float32, a couple of
/// ulp of values near 1):
/// - |x| < 0.75: erf(x) = (2/√π)·x + x³·P(x²), P of degree 5;
/// - beyond: erf(z) = 1 − exp(−z² + R(u)), R of degree 8 in u = (z − 2.375)/1.625 ∈ [−1, 1] for
///   z ∈ [0.75, 4]: log(erfc(z)) + z² is smooth there, and the exp carries the steep part.
///   z is clamped at 4, where erfc (1.5e-8) is below half an ulp of 1.
@inline(__always) func verf(_ x: Vec8) -> Vec8 {
    let signBits = unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x8000_0000
    let z = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Vec8.self)
    let x2 = x * x
    var s = Vec8(repeating: 9.843257826157303e-5)
    s = mulAdd(s, x2, -8.416753835597743e-4)
    s = mulAdd(s, x2, 5.2203388617481535e-3)
    s = mulAdd(s, x2, -2.68657218443746e-2)
    s = mulAdd(s, x2, 1.1283789750449465e-1)
    s = mulAdd(s, x2, -3.7612638894097267e-1)
    let twoOverSqrtPi: Float = 1.1283791670955126
    let small = mulAdd(x, twoOverSqrtPi, x * x2 * s)
    let zc = z - vrelu(z - 4)
    let u = (zc - 2.375) * (1 / 1.625)
    var r = Vec8(repeating: 7.551385554638301e-5)
    r = mulAdd(r, u, -4.445942243779997e-4)
    r = mulAdd(r, u, 1.657213319221279e-3)
    r = mulAdd(r, u, -5.4725025080222135e-3)
    r = mulAdd(r, u, 1.7059163865151133e-2)
    r = mulAdd(r, u, -5.153357876051741e-2)
    r = mulAdd(r, u, 1.5946713229380843e-1)
    r = mulAdd(r, u, -5.967548681193837e-1)
    r = mulAdd(r, u, -1.5118317884580608)
    // erf(−z) = −erf(z): put x's sign on the result.
    let large = unsafeBitCast(unsafeBitCast(1 - vexp(mulAdd(-zc, zc, r)), to: SIMD8<UInt32>.self) | signBits, to: Vec8.self)
    return select(negativeMask(z - 0.75), small, large)
}
