import Foundation
import Testing
import ModelIO
import TestSupport

/// A reference fixture: one safetensors file written by a script in scripts/fixtures/ with
/// PyTorch. Tensors are stored in PyTorch's layout (NCHW for images); `__metadata__` holds
/// the op's parameters as strings.
struct Fixture {
    let file: SafeTensorsFile

    init(_ relativePath: String) throws {
        file = try TestFixtures.safetensors(relativePath)
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
}

enum FixtureError: Error { case missingMetadata(String, String) }

import TensorEngine

extension Fixture {
    /// A fixture tensor as an engine tensor. `nhwc` converts a 4-D NCHW tensor to NHWC.
    func tensor(_ name: String, nhwc: Bool = false, requiresGrad: Bool = false) throws -> Tensor {
        let t = try file.tensor(name, nhwc: nhwc)
        t.requiresGrad = requiresGrad
        return t
    }

    /// A fixture tensor's values, converted to NHWC when `nhwc` (4-D NCHW in the file).
    func values(_ name: String, nhwc: Bool = false) throws -> [Float] {
        nhwc ? nchwToNHWC(try floats(name), shape: try shape(name)) : try floats(name)
    }

    func metaFloat(_ key: String) throws -> Float {
        guard let v = Float(try meta(key)) else { throw FixtureError.missingMetadata(file.path, key) }
        return v
    }
}

/// The engine's op fixtures.
func opFixture(_ name: String) throws -> Fixture { try Fixture("engine/ops/\(name).safetensors") }
