// The complete state of a TorchGenerator: the Mersenne Twister table and cursor plus the
// cached second normal of the double Box–Muller transform. Codable for training checkpoints
// (resume continues the stream exactly), and convertible to and from the 5056-byte tensor
// torch.Generator.get_state() returns, so a stream can be handed over in either direction.

public struct TorchGeneratorState: Sendable, Equatable, Codable {
    var engine: MersenneTwister19937
    /// The sine half of the last double Box–Muller pair, returned by the next small randn.
    public var nextDoubleNormal: Double?
    /// torch keeps a float twin of that cache which no CPU float kernel reads; carried only
    /// so a state read from torch is written back unchanged.
    public var nextFloatNormal: Float?

    init(seed: UInt64) {
        engine = MersenneTwister19937(seed: seed)
    }

    // MARK: Codable (our own checkpoint format, field by field)

    private enum CodingKeys: String, CodingKey {
        case seed, words, left, nextIndex, nextDoubleNormal, nextFloatNormal
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        engine = MersenneTwister19937(
            seed: try c.decode(UInt64.self, forKey: .seed),
            words: try c.decode([UInt32].self, forKey: .words),
            left: try c.decode(Int32.self, forKey: .left),
            nextIndex: try c.decode(UInt32.self, forKey: .nextIndex))
        nextDoubleNormal = try c.decodeIfPresent(Double.self, forKey: .nextDoubleNormal)
        nextFloatNormal = try c.decodeIfPresent(Float.self, forKey: .nextFloatNormal)
        guard engine.isValid else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: c.codingPath,
                debugDescription: "random generator state: expected 624 words, left in 1...624 and nextIndex in 0...624; got \(engine.words.count) words, left \(engine.left), nextIndex \(engine.nextIndex)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(engine.seed, forKey: .seed)
        try c.encode(engine.words, forKey: .words)
        try c.encode(engine.left, forKey: .left)
        try c.encode(engine.nextIndex, forKey: .nextIndex)
        try c.encodeIfPresent(nextDoubleNormal, forKey: .nextDoubleNormal)
        try c.encodeIfPresent(nextFloatNormal, forKey: .nextFloatNormal)
    }

    // MARK: torch.Generator.get_state() / set_state() bytes

    /// Byte offsets of CPUGeneratorImplState (little-endian, with C struct padding).
    private enum TorchLayout {
        static let size = 5056
        static let seed = 0, left = 8, seeded = 12, next = 16, words = 24
        static let normalY = 5024, normalIsValid = 5040
        static let floatNormal = 5048, floatNormalIsValid = 5052
    }

    public enum TorchStateError: Error, CustomStringConvertible {
        case wrongSize(Int)
        case invalidEngine(left: Int32, next: UInt64)

        public var description: String {
            switch self {
            case .wrongSize(let n):
                return "torch generator state: expected \(TorchLayout.size) bytes (torch.Generator().get_state() on CPU), got \(n)"
            case .invalidEngine(let left, let next):
                return "torch generator state: Mersenne Twister cursor out of range (left \(left), expected 1...624; next \(next), expected 0...624)"
            }
        }
    }

    /// Reads the bytes of `torch.Generator().get_state()` (a uint8 tensor of 5056 elements).
    public init(torchBytes bytes: [UInt8]) throws {
        guard bytes.count == TorchLayout.size else { throw TorchStateError.wrongSize(bytes.count) }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            var value: T = 0
            for k in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[offset + k]) << (8 * k) }
            return value
        }
        let left = load(TorchLayout.left, Int32.self)
        let next = load(TorchLayout.next, UInt64.self)
        guard left > 0, left <= 624, next <= 624 else { throw TorchStateError.invalidEngine(left: left, next: next) }
        let words = (0..<624).map { UInt32(truncatingIfNeeded: load(TorchLayout.words + 8 * $0, UInt64.self)) }
        engine = MersenneTwister19937(
            seed: load(TorchLayout.seed, UInt64.self), words: words, left: left, nextIndex: UInt32(next))
        nextDoubleNormal = load(TorchLayout.normalIsValid, Int32.self) != 0
            ? Double(bitPattern: load(TorchLayout.normalY, UInt64.self)) : nil
        nextFloatNormal = bytes[TorchLayout.floatNormalIsValid] != 0
            ? Float(bitPattern: load(TorchLayout.floatNormal, UInt32.self)) : nil
    }

    /// The bytes `torch.Generator().set_state(torch.tensor(bytes, dtype=torch.uint8))` accepts.
    public var torchBytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: TorchLayout.size)
        func store<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            for k in 0..<MemoryLayout<T>.size { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
        }
        store(engine.seed, TorchLayout.seed)
        store(engine.left, TorchLayout.left)
        store(Int32(1), TorchLayout.seeded)
        store(UInt64(engine.nextIndex), TorchLayout.next)
        for (i, word) in engine.words.enumerated() { store(UInt64(word), TorchLayout.words + 8 * i) }
        if let y = nextDoubleNormal {
            store(y.bitPattern, TorchLayout.normalY)
            store(Int32(1), TorchLayout.normalIsValid)
        }
        if let f = nextFloatNormal {
            store(f.bitPattern, TorchLayout.floatNormal)
            bytes[TorchLayout.floatNormalIsValid] = 1
        }
        return bytes
    }
}
