import Testing
@testable import TensorEngine

@Suite struct RandomTests {
    /// Known-answer vectors of the Philox4x32-10 reference (Random123's kat_vectors).
    @Test func philoxKnownAnswers() {
        let zero = PhiloxRandom.philox4x32x10(counter: (0, 0, 0, 0), key: (0, 0))
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        let ones = PhiloxRandom.philox4x32x10(counter: (.max, .max, .max, .max), key: (.max, .max))
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        let pi = PhiloxRandom.philox4x32x10(counter: (0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    @Test func sameSeedSameNumbersAndResumableState() {
        var a = PhiloxRandom(seed: 42), b = PhiloxRandom(seed: 42)
        #expect(a.normal(shape: [1001]).scalars == b.normal(shape: [1001]).scalars)
        let saved = a.state
        let next = a.normal(shape: [17]).scalars
        var resumed = PhiloxRandom(state: saved)
        #expect(resumed.normal(shape: [17]).scalars == next)
        var other = PhiloxRandom(seed: 43)
        #expect(other.normal(shape: [8]).scalars != PhiloxRandom(seed: 42).normalFirst(8))
    }

    @Test func normalsHaveUnitMoments() {
        var rng = PhiloxRandom(seed: 1)
        let x = rng.normal(shape: [200_000]).scalars
        let m = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let v = x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(x.count)
        #expect(abs(m) < 0.01)
        #expect(abs(v.squareRoot() - 1) < 0.01)
        #expect(x.allSatisfy { $0.isFinite })
    }

    @Test func uniformStaysInRangeAndCoversIt() {
        var rng = PhiloxRandom(seed: 5)
        let u = rng.uniform(shape: [10_001], low: -0.5, high: 0.25).scalars
        #expect(u.allSatisfy { $0 >= -0.5 && $0 < 0.25 })
        #expect(u.min()! < -0.49 && u.max()! > 0.24)
        let m = u.reduce(0.0) { $0 + Double($1) } / Double(u.count)
        #expect(abs(m - -0.125) < 0.01)
    }

    @Test func integersAndShuffleStayInRange() {
        var rng = PhiloxRandom(seed: 3)
        let draws = (0..<1000).map { _ in rng.nextInt(below: 1000) }
        #expect(draws.allSatisfy { (0..<1000).contains($0) })
        #expect(Set(draws).count > 500)
        let order = rng.shuffled(Array(0..<50))
        #expect(order.sorted() == Array(0..<50) && order != Array(0..<50))
    }
}

extension PhiloxRandom {
    func normalFirst(_ n: Int) -> [Float] { var copy = self; return copy.normal(shape: [n]).scalars }
}
