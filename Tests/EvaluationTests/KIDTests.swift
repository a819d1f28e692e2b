import Foundation
import Testing
@testable import Evaluation

@Suite struct KIDTests {
    /// 1-D features 0, 0 against 1, 1 (d = 1): k(0,0) = 1, k(1,1) = 8, k(0,1) = 1, so
    /// KID = 1 + 8 − 2 · 1 = 7.
    @Test func oneDimensionalSetsByHand() throws {
        #expect(try KernelInceptionDistance.compute([[0], [0]], [[1], [1]]) == 7)
    }

    /// The same two unit vectors in both sets (d = 2): the within-set terms leave out i = j
    /// (k = (0/2 + 1)³ = 1), the cross term keeps it (k = (1/2 + 1)³ = 3.375), so the unbiased
    /// estimate is 1 + 1 − 2 · (2 · 3.375 + 2 · 1) / 4 = −2.375: below zero, as it may be.
    @Test func identicalSetsGiveTheUnbiasedNegativeValue() throws {
        let set: [[Float]] = [[1, 0], [0, 1]]
        #expect(abs(try KernelInceptionDistance.compute(set, set) - (-2.375)) < 1e-12)
    }

    @Test func symmetric() throws {
        let a: [[Float]] = [[0.1, 0.5], [0.3, -0.2], [1, 1]], b: [[Float]] = [[2, 0], [0.5, 0.5]]
        #expect(abs(try KernelInceptionDistance.compute(a, b) - KernelInceptionDistance.compute(b, a)) < 1e-12)
    }

    struct Fixture: Decodable {
        struct Case: Decodable { var name: String; var x: [[Float]]; var y: [[Float]]; var kid: Double }
        var cases: [Case]
    }

    /// scripts/fixtures/kid.py: numpy's matrix-form KID on random float32 features.
    @Test func matchesNumpy() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("Fixtures/evaluation/kid.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        #expect(fixture.cases.count == 4)
        for c in fixture.cases {
            let kid = try KernelInceptionDistance.compute(c.x, c.y)
            #expect(abs(kid - c.kid) <= 1e-9 * max(1, abs(c.kid)), "\(c.name): \(kid) vs numpy \(c.kid)")
        }
    }

    @Test func refusesSetsTooSmallOrOfMixedLengths() {
        #expect(throws: KernelInceptionDistance.Error.self) { try KernelInceptionDistance.compute([[1]], [[1], [2]]) }
        #expect(throws: KernelInceptionDistance.Error.self) { try KernelInceptionDistance.compute([[1], [2, 3]], [[1], [2]]) }
    }
}
