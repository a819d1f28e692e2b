// A seeded, counter-based generator: Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3"). Each 128-bit counter value maps to four independent 32-bit outputs
// under a 64-bit key (the seed), so filling a buffer splits across threads with identical
// results, and the whole state is (seed, counter): saved in a checkpoint, it resumes the
// stream exactly. Normals come from Box–Muller, four per counter value.

#if canImport(Glibc)
import Glibc
#endif

public struct RandomState: Sendable, Codable, Equatable {
    public var seed: UInt64
    /// How many Philox blocks have been consumed.
    public var counter: UInt64
}

public struct PhiloxRandom: Sendable {
    public private(set) var state: RandomState

    public init(seed: UInt64) { state = RandomState(seed: seed, counter: 0) }
    public init(state: RandomState) { self.state = state }

    /// The four 32-bit outputs for block `index` under `seed`: Philox4x32-10 with counter
    /// (index low, index high, 0, 0) and key (seed low, seed high).
    @inline(__always)
    static func block(seed: UInt64, index: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        philox4x32x10(counter: (UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32), 0, 0),
                      key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// Ten rounds of the Philox4x32 bijection (the reference's constants and word order).
    @inline(__always)
    static func philox4x32x10(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let (hi0, lo0) = (UInt32(truncatingIfNeeded: p0 >> 32), UInt32(truncatingIfNeeded: p0))
            let (hi1, lo1) = (UInt32(truncatingIfNeeded: p1 >> 32), UInt32(truncatingIfNeeded: p1))
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
            k0 &+= 0x9E37_79B9   // the key schedule (the bump after the last round is unused)
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// A uniform float in (0, 1]: 24 random bits, never 0 (safe for log).
    @inline(__always) static func unitOpen(_ x: UInt32) -> Float { Float((x >> 8) + 1) * (1.0 / 16_777_216.0) }

    /// Four standard normals from one block (Box–Muller on two pairs of uniforms).
    @inline(__always)
    static func normals(seed: UInt64, index: UInt64) -> (Float, Float, Float, Float) {
        let (a, b, c, d) = block(seed: seed, index: index)
        let r0 = (-2 * logf(unitOpen(a))).squareRoot(), t0 = 2 * Float.pi * unitOpen(b)
        let r1 = (-2 * logf(unitOpen(c))).squareRoot(), t1 = 2 * Float.pi * unitOpen(d)
        return (r0 * cosf(t0), r0 * sinf(t0), r1 * cosf(t1), r1 * sinf(t1))
    }

    /// Fills `n` floats with standard normals (in parallel; the result depends only on the
    /// state, not on the thread count). Consumes ⌈n/4⌉ blocks.
    public mutating func fillNormal(_ out: UnsafeMutablePointer<Float>, count n: Int, mean: Float = 0, std: Float = 1) {
        let blocks = (n + 3) / 4
        let seed = state.seed, base = state.counter
        parallelChunks(blocks, minimumPerThread: 4096) { r in
            for blk in r {
                let (z0, z1, z2, z3) = PhiloxRandom.normals(seed: seed, index: base &+ UInt64(blk))
                let i = blk * 4
                out[i] = mean + std * z0
                if i + 1 < n { out[i + 1] = mean + std * z1 }
                if i + 2 < n { out[i + 2] = mean + std * z2 }
                if i + 3 < n { out[i + 3] = mean + std * z3 }
            }
        }
        state.counter &+= UInt64(blocks)
    }

    /// A tensor of standard normals (e.g. diffusion noise, LoRA initialisation).
    public mutating func normal(shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        fillNormal(t.data, count: t.count, mean: mean, std: std)
        return t
    }

    /// Fills `n` floats uniformly in [low, high) (e.g. PEFT's LoRA A initialisation,
    /// kaiming-uniform with a = √5: bound = 1/√fan_in). Consumes ⌈n/4⌉ blocks.
    public mutating func fillUniform(_ out: UnsafeMutablePointer<Float>, count n: Int, low: Float, high: Float) {
        let blocks = (n + 3) / 4
        let seed = state.seed, base = state.counter
        let width = high - low
        parallelChunks(blocks, minimumPerThread: 4096) { r in
            for blk in r {
                let (a, b, c, d) = PhiloxRandom.block(seed: seed, index: base &+ UInt64(blk))
                let i = blk * 4
                @inline(__always) func unit(_ w: UInt32) -> Float { Float(w >> 8) * (1.0 / 16_777_216.0) }
                out[i] = low + width * unit(a)
                if i + 1 < n { out[i + 1] = low + width * unit(b) }
                if i + 2 < n { out[i + 2] = low + width * unit(c) }
                if i + 3 < n { out[i + 3] = low + width * unit(d) }
            }
        }
        state.counter &+= UInt64(blocks)
    }

    public mutating func uniform(shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        fillUniform(t.data, count: t.count, low: low, high: high)
        return t
    }

    /// A uniform float in [0, 1) (one block).
    public mutating func nextUniform() -> Float {
        let (a, _, _, _) = PhiloxRandom.block(seed: state.seed, index: state.counter)
        state.counter &+= 1
        return Float(a >> 8) * (1.0 / 16_777_216.0)
    }

    /// A uniform integer in 0..<bound (one block; 64 random bits, so the modulo bias is
    /// negligible for any bound used here: timesteps, shuffles).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        let (a, b, _, _) = PhiloxRandom.block(seed: state.seed, index: state.counter)
        state.counter &+= 1
        return Int((UInt64(a) << 32 | UInt64(b)) % UInt64(bound))
    }

    /// A uniformly shuffled copy (Fisher–Yates), e.g. the order of training images in an epoch.
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var a = items
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, nextInt(below: i + 1)) }
        return a
    }
}
