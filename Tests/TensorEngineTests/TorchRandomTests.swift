import Foundation
import Testing
@testable import TensorEngine
import TestSupport

/// TorchGenerator against PyTorch's own outputs (Tests/Fixtures/engine/torch_random, written by
/// scripts/fixtures/torch_random.py). Every comparison is on bit patterns: equal or wrong.
@Suite struct TorchRandomTests {
    typealias Kernel = TorchGenerator.BoxMullerKernel

    struct Summary: Decodable {
        let count: Int
        let head: [UInt32]?
        let tail: [UInt32]?
        let fnv1a64: String?
        let values: [UInt32]?
    }
    struct RandnCase: Decodable {
        let seed: String
        let shape: [Int]
        let count: Int
        let head: [UInt32]
        let tail: [UInt32]
        let fnv1a64: String
        let values: [UInt32]?
    }
    struct Call: Decodable {
        let op: String
        let shape: [Int]
        let low: Int?
        let high: Int?
    }
    /// A call's result: float summaries (randn, rand) or integers as strings (randint).
    struct CallResult: Decodable {
        let count: Int
        let head: [UInt32]?
        let tail: [UInt32]?
        let fnv1a64: String?
        let values: [Value]?
        enum Value: Decodable {
            case bits(UInt32), integer(String)
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .integer(s) } else { self = .bits(try c.decode(UInt32.self)) }
            }
        }
    }
    struct Sequence: Decodable {
        let seed: String
        let calls: [Call]
        let results: [CallResult]
    }
    struct RandCase: Decodable { let seed: String; let count: Int; let values: [UInt32] }
    struct RandintCase: Decodable { let seed: String; let low: String; let high: String; let values: [String] }
    struct StateCase: Decodable {
        let seed: String
        let randn_before: [Int]
        let state_hex: String
        let randn_after: [UInt32]
    }
    struct Document: Decodable {
        let torch_version: String
        let kernel: String
        let randn: [RandnCase]
        let sequences: [Sequence]
        let rand: [RandCase]?
        let randint: [RandintCase]?
        let states: [StateCase]?
    }

    static func load(_ kernel: Kernel) throws -> Document {
        let url = TestFixtures.url("engine/torch_random/\(kernel.rawValue).json")
        return try JSONDecoder().decode(Document.self, from: Data(contentsOf: url))
    }

    static func seed(_ text: String) throws -> UInt64 {
        try #require(UInt64(text), "fixture seed \(text) is not a UInt64")
    }

    /// FNV-1a over the 32-bit patterns, as the fixture script computes it.
    static func fnv1a64(_ values: [Float]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for v in values { h = (h ^ UInt64(v.bitPattern)) &* 0x100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Compares values with PyTorch's summary; names the first differing element.
    static func expectSame(_ actual: [Float], count: Int, head: [UInt32]?, tail: [UInt32]?,
                           fnv: String?, whole: [UInt32]?, _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let bits = actual.map(\.bitPattern)
        #expect(bits.count == count, "\(what): \(bits.count) values, torch has \(count)", sourceLocation: sourceLocation)
        func compare(_ expected: [UInt32], at offset: Int) {
            for (k, e) in expected.enumerated() where offset + k < bits.count && bits[offset + k] != e {
                Issue.record("\(what): element \(offset + k) is \(actual[offset + k]) (0x\(String(bits[offset + k], radix: 16))), torch has \(Float(bitPattern: e)) (0x\(String(e, radix: 16)))", sourceLocation: sourceLocation)
                return
            }
        }
        if let head { compare(head, at: 0) }
        if let tail { compare(tail, at: bits.count - tail.count) }
        if let whole { compare(whole, at: 0) }
        if let fnv { #expect(fnv1a64(actual) == fnv, "\(what): checksum differs from torch's", sourceLocation: sourceLocation) }
    }

    // MARK: The engine

    @Test func mersenneTwisterMatchesTheStandardSequence() {
        // C++'s std::mt19937 with its default seed 5489 must give 4123659995 as the 10000th
        // output; ATen's engine is the same generator.
        var engine = MersenneTwister19937(seed: 5489)
        var value: UInt32 = 0
        for _ in 0..<10_000 { value = engine.next() }
        #expect(value == 4_123_659_995)
    }

    @Test func only64BitSeedsLow32BitsSeedTheTable() {
        var a = TorchGenerator(seed: 5), b = TorchGenerator(seed: (1 << 32) + 5)
        #expect(a.nextUInt32() == b.nextUInt32())
        #expect(b.initialSeed == (1 << 32) + 5)
    }

    // MARK: torch.randn

    @Test(arguments: Kernel.allCases)
    func randnMatchesTorch(kernel: Kernel) throws {
        let doc = try Self.load(kernel)
        #expect(doc.kernel == kernel.rawValue)
        #expect(doc.randn.count == 6 * 14)
        for c in doc.randn {
            var g = TorchGenerator(seed: try Self.seed(c.seed), boxMuller: kernel)
            let values = g.randn(shape: c.shape)
            Self.expectSame(values, count: c.count, head: c.head, tail: c.tail, fnv: c.fnv1a64,
                            whole: c.values, "randn \(c.shape) seed \(c.seed) (\(kernel), torch \(doc.torch_version))")
        }
    }

    @Test(arguments: Kernel.allCases)
    func successiveCallsContinueTheStreamAsTorchDoes(kernel: Kernel) throws {
        let doc = try Self.load(kernel)
        #expect(!doc.sequences.isEmpty)
        for sequence in doc.sequences {
            var g = TorchGenerator(seed: try Self.seed(sequence.seed), boxMuller: kernel)
            for (index, (call, result)) in zip(sequence.calls, sequence.results).enumerated() {
                let what = "seed \(sequence.seed) call \(index) \(call.op) \(call.shape) (\(kernel))"
                switch call.op {
                case "randint":
                    let values = g.randint(low: try #require(call.low), high: try #require(call.high), shape: call.shape)
                    let expected = (result.values ?? []).compactMap { v -> Int? in
                        if case .integer(let s) = v { return Int(s) } else { return nil }
                    }
                    #expect(values == expected, "\(what)")
                default:
                    let values = call.op == "rand" ? g.rand(shape: call.shape) : g.randn(shape: call.shape)
                    let whole = result.values?.compactMap { v -> UInt32? in
                        if case .bits(let b) = v { return b } else { return nil }
                    }
                    Self.expectSame(values, count: result.count, head: result.head, tail: result.tail,
                                    fnv: result.fnv1a64, whole: whole, what)
                }
            }
        }
    }

    // MARK: torch.rand, torch.randint

    @Test func randMatchesTorch() throws {
        let cases = try #require(try Self.load(.avx2).rand)
        #expect(!cases.isEmpty)
        for c in cases {
            var g = TorchGenerator(seed: try Self.seed(c.seed))
            #expect(g.rand(count: c.count).map(\.bitPattern) == c.values, "rand(\(c.count)) seed \(c.seed)")
        }
    }

    @Test func randintMatchesTorchForSmallAndHugeRanges() throws {
        let cases = try #require(try Self.load(.avx2).randint)
        #expect(!cases.isEmpty)
        for c in cases {
            var g = TorchGenerator(seed: try Self.seed(c.seed))
            let (low, high) = (try #require(Int(c.low)), try #require(Int(c.high)))
            let values = g.randint(low: low, high: high, count: c.values.count)
            #expect(values == c.values.compactMap { Int($0) }, "randint(\(low), \(high)) seed \(c.seed)")
        }
    }

    // MARK: State

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    @Test func torchStateBytesRoundTripBothWays() throws {
        let cases = try #require(try Self.load(.avx2).states)
        #expect(cases.count == 3)
        for c in cases {
            let torchBytes = Self.bytes(hex: c.state_hex)
            // Ours after the same draws is byte for byte what torch.get_state() returned...
            var ours = TorchGenerator(seed: try Self.seed(c.seed))
            _ = ours.randn(shape: c.randn_before)
            #expect(ours.state.torchBytes == torchBytes, "state after randn \(c.randn_before), seed \(c.seed)")
            // ...and a generator built from torch's bytes continues as torch did.
            var restored = TorchGenerator(state: try TorchGeneratorState(torchBytes: torchBytes))
            #expect(restored.randn(count: 5).map(\.bitPattern) == c.randn_after, "randn(5) after set_state, seed \(c.seed)")
        }
    }

    @Test func torchStateOfTheWrongSizeIsRefusedWithTheExpectedSize() {
        #expect {
            _ = try TorchGeneratorState(torchBytes: [UInt8](repeating: 0, count: 100))
        } throws: { error in
            "\(error)".contains("expected 5056 bytes") && "\(error)".contains("got 100")
        }
    }

    @Test func savedStateResumesMidStreamIncludingTheCachedNormal() throws {
        var uninterrupted = TorchGenerator(seed: 99)
        _ = uninterrupted.randn(count: 3)  // leaves a cached normal
        let saved = try JSONEncoder().encode(uninterrupted.state)
        #expect(uninterrupted.state.nextDoubleNormal != nil)
        let expected = uninterrupted.randn(count: 1) + uninterrupted.randn(count: 40) + uninterrupted.rand(count: 3)

        var resumed = TorchGenerator(state: try JSONDecoder().decode(TorchGeneratorState.self, from: saved))
        let actual = resumed.randn(count: 1) + resumed.randn(count: 40) + resumed.rand(count: 3)
        #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test func corruptSavedStateIsRefused() throws {
        var json = try #require(String(data: JSONEncoder().encode(TorchGenerator(seed: 1).state), encoding: .utf8))
        json = json.replacingOccurrences(of: "\"left\":1", with: "\"left\":0")
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(TorchGeneratorState.self, from: Data(json.utf8))
        }
    }

    @Test func reseedingDropsTheCachedNormal() {
        var g = TorchGenerator(seed: 3)
        _ = g.randn(count: 1)
        #expect(g.state.nextDoubleNormal != nil)
        g.manualSeed(3)
        var fresh = TorchGenerator(seed: 3)
        #expect(g == fresh)
        #expect(g.randn(count: 2) == fresh.randn(count: 2))
    }
}
