import Foundation
import Testing
import ModelIO

/// A reference fixture: one safetensors file written by a script in scripts/fixtures/ with
/// PyTorch. Tensors are stored in PyTorch's layout (NCHW for images); `__metadata__` holds
/// the op's parameters as strings.
struct Fixture {
    let file: SafeTensorsFile

    /// Tests/Fixtures, found from this source file so tests run from any working directory.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    init(_ relativePath: String) throws {
        file = try SafeTensorsFile(path: Fixture.root.appendingPathComponent(relativePath).path)
    }

    func floats(_ name: String) throws -> [Float] { try file.floats(name) }
    func shape(_ name: String) throws -> [Int] { try file.entry(name).shape }
    func has(_ name: String) -> Bool { file.entries[name] != nil }

    func meta(_ key: String) throws -> String {
        guard let v = file.metadata[key] else { throw FixtureError.missingMetadata(file.path, key) }
        return v
    }
    func metaInt(_ key: String) throws -> Int {
        guard let v = Int(try meta(key)) else { throw FixtureError.missingMetadata(file.path, key) }
        return v
    }

    /// NCHW (PyTorch) → NHWC (the engine's channels-last layout).
    static func nchwToNHWC(_ v: [Float], shape s: [Int]) -> [Float] {
        precondition(s.count == 4)
        let (n, c, h, w) = (s[0], s[1], s[2], s[3])
        var out = [Float](repeating: 0, count: v.count)
        for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            out[((b * h + y) * w + x) * c + ch] = v[((b * c + ch) * h + y) * w + x]
        } } } }
        return out
    }

    /// OIHW (PyTorch conv weight) → O,KH,KW,I (the engine's layout: one im2col row per output channel).
    static func oihwToOHWI(_ v: [Float], shape s: [Int]) -> [Float] { nchwToNHWC(v, shape: s) }
}

enum FixtureError: Error { case missingMetadata(String, String) }

/// Elementwise |a - b| <= atol + rtol * |b|; reports the worst element.
func expectClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    var worst = -1, worstExcess: Float = 0
    for i in 0..<actual.count {
        let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
        if excess > worstExcess || actual[i].isNaN { worst = i; worstExcess = excess.isNaN ? .infinity : excess }
    }
    #expect(worst < 0, "\(what): element \(worst) is \(worst >= 0 ? actual[worst] : 0), expected \(worst >= 0 ? expected[worst] : 0) (rtol \(rtol), atol \(atol))", sourceLocation: sourceLocation)
}

import TensorEngine

extension Fixture {
    /// A fixture tensor as an engine tensor. `nhwc` converts a 4-D NCHW tensor to NHWC.
    func tensor(_ name: String, nhwc: Bool = false, requiresGrad: Bool = false) throws -> Tensor {
        let s = try shape(name)
        var v = try floats(name)
        var shape = s
        if nhwc {
            precondition(s.count == 4, "\(name) is not 4-D")
            v = Fixture.nchwToNHWC(v, shape: s)
            shape = [s[0], s[2], s[3], s[1]]
        }
        let t = Tensor(v, shape: shape)
        t.requiresGrad = requiresGrad
        return t
    }

    /// A fixture tensor's values, converted to NHWC when `nhwc` (4-D NCHW in the file).
    func values(_ name: String, nhwc: Bool = false) throws -> [Float] {
        nhwc ? Fixture.nchwToNHWC(try floats(name), shape: try shape(name)) : try floats(name)
    }

    func metaFloat(_ key: String) throws -> Float {
        guard let v = Float(try meta(key)) else { throw FixtureError.missingMetadata(file.path, key) }
        return v
    }
}

/// The engine's op fixtures.
func opFixture(_ name: String) throws -> Fixture { try Fixture("engine/ops/\(name).safetensors") }
