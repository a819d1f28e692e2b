// Single-precision log and sin/cos as PyTorch's AVX2 normal kernel computes them.
//
// On CPUs where PyTorch runs its AVX2 kernels, torch.randn's Box–Muller step calls
// log256_ps and sincos256_ps from ATen's avx_mathfun.h: Cephes polynomials in float, lane by
// lane. The source writes separate multiplies and adds, but PyTorch's wheels are built by GCC
// with -mfma and its default -ffp-contract=fast, which fuses most multiply-add pairs; the
// fused pairs below are where GCC fuses them (read from the disassembly of avx_mathfun.h
// built with -O2 -mavx2 -mfma, whose output equals torch.randn's bit for bit, while the
// unfused build differs in ~1% of values). We do the same float operations in order, with
// `addingProduct` exactly where GCC fused, one lane at a time; nothing here depends on the
// machine, so this path gives identical noise on any CPU.
//
// Constants are written as C wrote them, a double literal rounded once to float, hence the
// explicit `Float(... as Double)`: a Swift Float literal may round differently.

enum CephesSinglePrecision {
    private static let sqrtHalf = Float(0.707106781186547524 as Double)
    private static let logP: [Float] = [
        7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
        -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1,
    ].map { (c: Double) in Float(c) }
    /// ln 2 split into a short high part and a correction, so e * ln2 adds without loss.
    private static let ln2Low = Float(-2.12194440e-4 as Double)
    private static let ln2High = Float(0.693359375 as Double)
    /// The smallest normal float: arguments below it are clamped (denormals are cut off).
    private static let smallestNormal = Float(bitPattern: 0x0080_0000)

    /// Natural logarithm of x > 0 (log256_ps). Returns NaN for x <= 0.
    @inline(__always)
    static func log(_ argument: Float) -> Float {
        if !(argument > 0) { return .nan }
        var x = argument > smallestNormal ? argument : smallestNormal
        // Split x = m * 2^e with m in [0.5, 1): exponent from the bits, mantissa by
        // giving the bits 0.5's exponent.
        let bits = x.bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) - 0x7F) + 1
        x = Float(bitPattern: (bits & ~0x7F80_0000) | Float(0.5).bitPattern)
        // Keep m near 1: below sqrt(1/2) use 2m - 1 and one less in the exponent.
        let belowSqrtHalf = x < sqrtHalf
        let addend: Float = belowSqrtHalf ? x : 0
        x = x - 1
        e = e - (belowSqrtHalf ? 1 : 0)
        x = x + addend

        let z = x * x
        var y = logP[0]
        for k in 1..<logP.count { y = logP[k].addingProduct(y, x) }
        y = y * x
        y = (e * ln2Low).addingProduct(y, z)
        y = y - z * 0.5  // z * 0.5 is exact: fused or not, the same
        x = x + y
        x = x.addingProduct(e, ln2High)
        return x
    }

    private static let fourOverPi = Float(1.27323954473516 as Double)
    /// pi/4 in three pieces for the "extended precision" argument reduction.
    private static let minusPiOver4High = Float(-0.78515625 as Double)
    private static let minusPiOver4Mid = Float(-2.4187564849853515625e-4 as Double)
    private static let minusPiOver4Low = Float(-3.77489497744594108e-8 as Double)
    private static let sinP0 = Float(-1.9515295891E-4 as Double)
    private static let sinP1 = Float(8.3321608736E-3 as Double)
    private static let sinP2 = Float(-1.6666654611E-1 as Double)
    private static let cosP0 = Float(2.443315711809948E-005 as Double)
    private static let cosP1 = Float(-1.388731625493765E-003 as Double)
    private static let cosP2 = Float(4.166664568298827E-002 as Double)
    private static let signBit: UInt32 = 0x8000_0000

    /// sin and cos of x together (sincos256_ps). Accurate for |x| < 8192, which covers the
    /// Box–Muller angles in [0, 2π).
    @inline(__always)
    static func sinCos(_ argument: Float) -> (sin: Float, cos: Float) {
        var sinSign = argument.bitPattern & signBit
        var x = Float(bitPattern: argument.bitPattern & ~signBit)

        // Octant j (rounded up to even) and the remainder x - j*pi/4.
        var octant = (Int32(x * fourOverPi) &+ 1) & ~1
        let j = Float(octant)
        let swapSinSign = UInt32(bitPattern: octant & 4) << 29
        let useSinPolynomial = (octant & 2) == 0
        x = x.addingProduct(j, minusPiOver4High)
        x = x.addingProduct(j, minusPiOver4Mid)
        x = x.addingProduct(j, minusPiOver4Low)
        octant = octant &- 2
        let cosSign = UInt32(bitPattern: ~octant & 4) << 29
        sinSign ^= swapSinSign

        let z = x * x
        var cosPoly = cosP1.addingProduct(cosP0, z)
        cosPoly = cosP2.addingProduct(cosPoly, z)
        cosPoly = cosPoly * z
        cosPoly = (-(z * 0.5)).addingProduct(cosPoly, z)
        cosPoly = cosPoly + 1

        var sinPoly = sinP1.addingProduct(sinP0, z)
        sinPoly = sinP2.addingProduct(sinPoly, z)
        sinPoly = sinPoly * z
        sinPoly = x.addingProduct(sinPoly, x)

        // The kernel selects with bit masks and then adds a zero; mirror that exactly so
        // signed zeros come out the same.
        let sinFromSinPoly: Float = useSinPolynomial ? sinPoly : 0
        let sinFromCosPoly: Float = useSinPolynomial ? 0 : cosPoly
        let cosFromSinPoly = sinPoly - sinFromSinPoly
        let cosFromCosPoly = cosPoly - sinFromCosPoly
        let sine = sinFromCosPoly + sinFromSinPoly
        let cosine = cosFromCosPoly + cosFromSinPoly
        return (Float(bitPattern: sine.bitPattern ^ sinSign),
                Float(bitPattern: cosine.bitPattern ^ cosSign))
    }
}
