// Paths and helpers shared by the checkpoint tests.
import Foundation
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

enum CheckpointFixtures {
    static func model(_ name: String) -> String { TestFixtures.path("models/\(name)") }
    static func checkpoint(_ name: String) -> String { TestFixtures.path("checkpoints/\(name)") }

    /// A fresh empty folder under the system's temporary directory.
    static func temporaryFolder(_ label: String = #function) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("dropbooth-ckpt-\(label.filter { $0.isLetter })-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A copy of a folder tree (fixtures are never modified in place).
    static func copy(_ source: String, to destination: String) throws {
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }

    /// Rewrites a safetensors file through `edit` (names → (shape, values, dtype)).
    static func rewrite(_ source: String, to destination: String,
                        edit: (inout [String: (shape: [Int], values: [Float], dtype: SafeTensorsDType)]) -> Void) throws {
        let file = try SafeTensorsFile(path: source)
        var tensors: [String: (shape: [Int], values: [Float], dtype: SafeTensorsDType)] = [:]
        for name in file.names {
            let e = try file.entry(name)
            guard [.f32, .f16, .bf16].contains(e.dtype) else { continue }
            tensors[name] = (e.shape, try file.floats(name), e.dtype)
        }
        edit(&tensors)
        var w = SafeTensorsWriter()
        for name in tensors.keys.sorted() { let t = tensors[name]!; w.add(name, shape: t.shape, values: t.values, dtype: t.dtype) }
        try w.write(to: destination)
    }
}

/// Float32 → the stored 16-bit type and back, as PyTorch's .half() / .bfloat16() round.
func roundedLikeStorage(_ x: Float, _ dtype: SafeTensorsDType) -> Float {
    switch dtype {
    case .f16: return Float(Float16(x))
    case .bf16: return Float(bitPattern: UInt32(bfloat16Bits(x)) << 16)
    default: return x
    }
}

/// The error a throwing expression raises, for checking its message.
func errorText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}
