// A random source that reproduces PyTorch's CPU generator bit for bit.
//
// `TorchGenerator(seed: s)` behaves as `torch.manual_seed(s)` / `torch.Generator().manual_seed(s)`,
// and `randn`, `rand` and `randint` return exactly the float32 / int64 values `torch.randn`,
// `torch.rand` and `torch.randint` return on the CPU, continuing the stream across calls as
// torch does. This is the algorithm of PyTorch 2.x, checked bit for bit against 2.15 by the
// fixtures in Tests/Fixtures/engine/torch_random (made by scripts/fixtures/torch_random.py).
// The engine, the uniform conversions, the 16-block fill and the randint rule are the same
// throughout 2.x; a release whose small-size path still computes log(1 - u) rather than
// log1p(-u) can differ there in the last bit of a rare value.
//
// What torch does, and so what we do:
// - The engine is MT19937 (see MersenneTwister19937). A 32-bit draw is one output; a 64-bit
//   draw is two, the first one the high half.
// - A float uniform is the low 24 bits of a 32-bit draw times 2^-24; a double uniform is the
//   low 53 bits of a 64-bit draw times 2^-53.
// - randn of fewer than 16 values goes one value at a time through the double-precision
//   Box–Muller transform (log1p, sin, cos of the C library), which makes two normals and
//   keeps the second (the sine one) for the next call; reseeding drops it.
// - randn of 16 or more values first fills the whole tensor with float uniforms, then turns
//   each block of 16 into normals: uniforms 0..<8 give the radius, 8..<16 the angle, the
//   cosine results land in the first half and the sine results in the second. When the size
//   is not a multiple of 16, 16 fresh uniforms are drawn and the last 16 values are computed
//   again from them. The cached double normal is neither used nor changed.
//
// Where results can differ from a given PyTorch install: only in the float transcendental
// functions of that 16-block step, which PyTorch picks per CPU (`BoxMullerKernel`). On CPUs
// where torch.backends.cpu.get_cpu_capability() is "AVX2" (most desktop x86) it uses
// avx_mathfun's Cephes polynomials: `.avx2`, the default, identical on every machine. With
// "AVX512" or "DEFAULT" capability (e.g. AVX-512 servers, ARM) it uses the C library's
// logf/sinf/cosf: `.scalar`, which then matches torch on the same OS and C library (checked
// here with ATEN_CPU_CAPABILITY=default on glibc; AVX512 runs the same source, unverified for
// lack of such a CPU). Nothing else differs on CPU. The CUDA generator (Philox, other
// kernels) is a different algorithm altogether and is not reproduced here.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct TorchGenerator: Sendable, Equatable {
    /// Which float math PyTorch's vectorised normal fill uses on the machine being matched.
    public enum BoxMullerKernel: String, Sendable, Codable, CaseIterable {
        /// avx_mathfun Cephes polynomials (torch's "AVX2" CPU capability).
        case avx2
        /// The C library's logf/sinf/cosf ("AVX512" and "DEFAULT" capabilities).
        case scalar

        /// The kernel torch would pick here: the one ATEN_CPU_CAPABILITY names if set ("avx2"
        /// or anything else), otherwise `.avx2` on x86 with AVX2 and FMA but without the
        /// AVX-512 subsets torch needs for its AVX512 capability, `.scalar` everywhere else.
        public static var pytorchChoiceOnThisMachine: BoxMullerKernel {
            #if canImport(Glibc) || canImport(Darwin)
            if let requested = getenv("ATEN_CPU_CAPABILITY") {
                return String(cString: requested).lowercased() == "avx2" ? .avx2 : .scalar
            }
            #endif
            #if arch(x86_64) && canImport(Glibc)
            guard let flags = cpuFlags() else { return .avx2 }
            let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains)
            return !avx512 && flags.contains("avx2") && flags.contains("fma") ? .avx2 : .scalar
            #else
            return .scalar
            #endif
        }
    }

    #if canImport(Glibc)
    /// The words of the first "flags" line of /proc/cpuinfo.
    private static func cpuFlags() -> Set<String>? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
            }
        }
        return nil
    }
    #endif

    /// PyTorch's seed for a generator nobody seeded (default_rng_seed_val).
    public static let defaultSeed: UInt64 = 67_280_421_310_721

    /// Everything that determines the stream; save it to resume exactly where we were.
    public var state: TorchGeneratorState
    public var boxMuller: BoxMullerKernel

    /// A generator as after `torch.manual_seed(seed)`.
    public init(seed: UInt64 = TorchGenerator.defaultSeed, boxMuller: BoxMullerKernel = .avx2) {
        self.state = TorchGeneratorState(seed: seed)
        self.boxMuller = boxMuller
    }

    public init(state: TorchGeneratorState, boxMuller: BoxMullerKernel = .avx2) {
        self.state = state
        self.boxMuller = boxMuller
    }

    /// Restart from `seed`, dropping any cached normal (generator.manual_seed).
    public mutating func manualSeed(_ seed: UInt64) {
        state = TorchGeneratorState(seed: seed)
    }

    /// The seed the stream started from (generator.initial_seed()).
    public var initialSeed: UInt64 { state.engine.seed }

    // MARK: Raw draws

    /// One 32-bit draw (CPUGeneratorImpl::random).
    @inline(__always)
    public mutating func nextUInt32() -> UInt32 { state.engine.next() }

    /// One 64-bit draw from two 32-bit ones, the first the high half (CPUGeneratorImpl::random64).
    @inline(__always)
    public mutating func nextUInt64() -> UInt64 {
        let high = UInt64(state.engine.next())
        let low = UInt64(state.engine.next())
        return high << 32 | low
    }

    /// Uniform in [0, 1) with 24 random bits (uniform_real_distribution<float>).
    @inline(__always)
    mutating func nextUniformFloat() -> Float {
        Float(nextUInt32() & 0xFF_FFFF) * 0x1p-24
    }

    /// Uniform in [0, 1) with 53 random bits (uniform_real_distribution<double>).
    @inline(__always)
    mutating func nextUniformDouble() -> Double {
        Double(nextUInt64() & 0x1F_FFFF_FFFF_FFFF) * 0x1p-53
    }

    /// One standard normal from the double-precision Box–Muller transform, using and
    /// refilling the one-value cache (normal_distribution<double>).
    mutating func nextNormalDouble() -> Double {
        if let cached = state.nextDoubleNormal {
            state.nextDoubleNormal = nil
            return cached + 0  // torch returns cached * std + mean: -0 becomes +0
        }
        let u1 = nextUniformDouble()
        let u2 = nextUniformDouble()
        let radius = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        state.nextDoubleNormal = radius * sin(theta)
        return radius * cos(theta) + 0
    }

    // MARK: torch.randn

    /// `torch.randn(count)` as float32.
    public mutating func randn(count: Int) -> [Float] {
        precondition(count >= 0, "randn: count must not be negative, got \(count)")
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            randn(into: buffer)
            initialized = count
        }
    }

    /// `torch.randn(shape)` as float32, in PyTorch's (row-major) element order.
    public mutating func randn(shape: [Int]) -> [Float] {
        randn(count: Self.elementCount(shape, "randn"))
    }

    /// Fills `buffer` as `torch.randn` fills a contiguous float32 tensor of that many elements.
    public mutating func randn(into buffer: UnsafeMutableBufferPointer<Float>) {
        let count = buffer.count
        guard let base = buffer.baseAddress, count > 0 else { return }
        if count < 16 {
            for i in 0..<count { base[i] = Float(nextNormalDouble()) }
            return
        }
        for i in 0..<count { base[i] = nextUniformFloat() }
        var start = 0
        while start + 16 <= count {
            boxMuller16(base + start)
            start += 16
        }
        if count % 16 != 0 {
            let tail = base + (count - 16)
            for i in 0..<16 { tail[i] = nextUniformFloat() }
            boxMuller16(tail)
        }
    }

    /// Turns 16 uniforms into 16 normals in place: pair j is (data[j], data[j + 8]).
    /// torch stores fma(normal, std, mean); with std 1 and mean 0 that is `normal + 0`,
    /// which only turns -0 into +0.
    @inline(__always)
    private func boxMuller16(_ data: UnsafeMutablePointer<Float>) {
        switch boxMuller {
        case .avx2:
            let twoPi = Float(2.0 * Double.pi)
            for j in 0..<8 {
                let u1 = 1 - data[j]  // [0, 1) -> (0, 1] for the log
                let radius = (-2 * CephesSinglePrecision.log(u1)).squareRoot()
                let (sine, cosine) = CephesSinglePrecision.sinCos(twoPi * data[j + 8])
                data[j] = radius * cosine + 0
                data[j + 8] = radius * sine + 0
            }
        case .scalar:
            for j in 0..<8 {
                let u1 = 1 - data[j]
                let radius = (-2 * logf(u1)).squareRoot()
                // torch multiplies by 2π in double and rounds the angle to float.
                let theta = Float(2.0 * Double.pi * Double(data[j + 8]))
                data[j] = radius * cosf(theta) + 0
                data[j + 8] = radius * sinf(theta) + 0
            }
        }
    }

    // MARK: torch.rand

    /// `torch.rand(count)` as float32: uniform in [0, 1).
    public mutating func rand(count: Int) -> [Float] {
        precondition(count >= 0, "rand: count must not be negative, got \(count)")
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count { values[i] = nextUniformFloat() }
        return values
    }

    /// `torch.rand(shape)` as float32.
    public mutating func rand(shape: [Int]) -> [Float] {
        rand(count: Self.elementCount(shape, "rand"))
    }

    // MARK: torch.randint

    /// `torch.randint(low, high, (count,))` (int64): uniform integers in low..<high, each
    /// the remainder of a 32-bit draw, or of a 64-bit one when the range is 2^28 or more.
    public mutating func randint(low: Int, high: Int, count: Int) -> [Int] {
        precondition(high > low, "randint: high (\(high)) must be greater than low (\(low))")
        precondition(count >= 0, "randint: count must not be negative, got \(count)")
        let range = UInt64(bitPattern: Int64(high)) &- UInt64(bitPattern: Int64(low))
        let base = UInt64(bitPattern: Int64(low))
        var values = [Int](repeating: 0, count: count)
        for i in 0..<count {
            let draw = range >= 1 << 28 ? nextUInt64() : UInt64(nextUInt32())
            values[i] = Int(Int64(bitPattern: draw % range &+ base))
        }
        return values
    }

    /// `torch.randint(low, high, shape)`.
    public mutating func randint(low: Int, high: Int, shape: [Int]) -> [Int] {
        randint(low: low, high: high, count: Self.elementCount(shape, "randint"))
    }

    private static func elementCount(_ shape: [Int], _ op: String) -> Int {
        precondition(shape.allSatisfy { $0 >= 0 }, "\(op): shape \(shape) has a negative size")
        return shape.reduce(1, *)
    }
}
