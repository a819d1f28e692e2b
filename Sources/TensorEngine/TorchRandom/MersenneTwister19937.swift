// The 32-bit Mersenne Twister (MT19937) exactly as PyTorch's CPU generator runs it
// (ATen's at::mt19937): seeded from the low 32 bits of a 64-bit seed with Knuth's
// initialisation multiplier, regenerating all 624 words at once when they run out.
//
// `left` and `nextIndex` mirror ATen's `left_`/`next_` rather than a single cursor so the
// state can be exchanged with torch.Generator.get_state()/set_state() unchanged: a freshly
// seeded engine has left == 1, which makes the very first draw twist the initial table.

struct MersenneTwister19937: Sendable, Equatable {
    static let stateWords = 624
    static let shift = 397
    static let matrixA: UInt32 = 0x9908_B0DF

    /// The 64-bit seed as given; only its low 32 bits enter the table (as in ATen).
    var seed: UInt64
    var words: [UInt32]
    /// Draws left before the table must be regenerated, counting the one about to be made.
    var left: Int32
    var nextIndex: UInt32

    init(seed: UInt64) {
        self.seed = seed
        var words = [UInt32](repeating: 0, count: Self.stateWords)
        words[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.stateWords {
            let previous = words[j - 1]
            words[j] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
        }
        self.words = words
        self.left = 1
        self.nextIndex = 0
    }

    init(seed: UInt64, words: [UInt32], left: Int32, nextIndex: UInt32) {
        self.seed = seed
        self.words = words
        self.left = left
        self.nextIndex = nextIndex
    }

    /// True when `left` and `nextIndex` are in the ranges ATen accepts in set_state.
    var isValid: Bool {
        words.count == Self.stateWords && left > 0 && left <= Int32(Self.stateWords)
            && nextIndex <= UInt32(Self.stateWords)
    }

    /// One tempered 32-bit output (at::mt19937::operator()).
    @inline(__always)
    mutating func next() -> UInt32 {
        left -= 1
        if left == 0 { regenerate() }
        var y = words[Int(nextIndex)]
        nextIndex += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// The "twist": every word becomes a mix of itself, its successor and the word 397 ahead,
    /// in place and in order, so the last 227 words already see regenerated ones.
    private mutating func regenerate() {
        let n = Self.stateWords, m = Self.shift
        words.withUnsafeMutableBufferPointer { w in
            for i in 0..<n {
                let successor = w[i + 1 == n ? 0 : i + 1]
                let mixed = (w[i] & 0x8000_0000) | (successor & 0x7FFF_FFFF)
                let ahead = w[i + m < n ? i + m : i + m - n]
                w[i] = ahead ^ (mixed >> 1) ^ ((successor & 1) != 0 ? Self.matrixA : 0)
            }
        }
        left = Int32(n)
        nextIndex = 0
    }
}
