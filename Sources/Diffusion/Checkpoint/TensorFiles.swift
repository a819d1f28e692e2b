// The safetensors files of one component (one file, or the shards an index lists) as one
// name → tensor table, and the one place stored bytes become engine tensors: float32 data is
// wrapped in place (the mapping stays alive with the tensor, nothing is copied), float16 and
// bfloat16 are widened, float64 narrowed.
import Foundation
import ModelIO
import TensorEngine

/// Where one stored tensor lives.
struct StoredTensor {
    let file: SafeTensorsFile
    let name: String
    var entry: SafeTensorsFile.Entry { file.entries[name]! }
    var shape: [Int] { entry.shape }
}

final class TensorFiles: @unchecked Sendable {
    /// The files, for messages ("unet/diffusion_pytorch_model.safetensors").
    let paths: [String]
    let tensors: [String: StoredTensor]

    init(files: [SafeTensorsFile]) throws {
        paths = files.map(\.path)
        var table: [String: StoredTensor] = [:]
        for f in files {
            for name in f.entries.keys {
                if let other = table[name] {
                    throw CheckpointError.notACheckpoint(path: f.path, reason: "tensor \(name) is also in \(other.file.path)")
                }
                table[name] = StoredTensor(file: f, name: name)
            }
        }
        tensors = table
    }

    convenience init(path: String) throws {
        try self.init(files: [Self.open(path)])
    }

    /// The shards listed by a `*.safetensors.index.json` ({"weight_map": {tensor: file}}), which
    /// must sit beside it; every tensor must be in the shard the index names.
    convenience init(index path: String) throws {
        guard case .object(let top) = try JSONValue.read(path), case .object(let map)? = top["weight_map"] else {
            throw CheckpointError.badJSON(path: path, reason: "expected an object with a \"weight_map\" of tensor name → shard file")
        }
        let folder = (path as NSString).deletingLastPathComponent
        var shardNames: [String] = []
        for (tensor, v) in map {
            guard case .string(let file) = v, !file.contains("/"), file.hasSuffix(".safetensors") else {
                throw CheckpointError.badJSON(path: path, reason: "weight_map[\"\(tensor)\"] should name a .safetensors file in the same folder, found \(v)")
            }
            if !shardNames.contains(file) { shardNames.append(file) }
        }
        let files = try shardNames.sorted().map { try Self.open((folder as NSString).appendingPathComponent($0)) }
        try self.init(files: files)
        for (tensor, v) in map {
            guard case .string(let file) = v, let stored = tensors[tensor], (stored.file.path as NSString).lastPathComponent == file else {
                throw CheckpointError.missingTensor(path: (folder as NSString).appendingPathComponent("\(map[tensor]!)"), name: tensor)
            }
        }
    }

    static func open(_ path: String) throws -> SafeTensorsFile {
        do { return try SafeTensorsFile(path: path) } catch let e as SafeTensorsError {
            throw CheckpointError.notACheckpoint(path: path, reason: e.description)
        }
    }

    /// Rows `rows` of the stored tensor's first dimension (all rows when nil), as float32,
    /// with the shape `shape` (same element count; a reshape is free).
    static func load(_ t: StoredTensor, rows: Range<Int>? = nil, shape: [Int]? = nil) throws -> Tensor {
        let e = t.entry
        let rowSize = e.shape.isEmpty ? 1 : e.elementCount / max(1, e.shape[0])
        let first = (rows?.lowerBound ?? 0) * rowSize
        let count = rows.map { $0.count * rowSize } ?? e.elementCount
        let outShape = shape ?? (rows.map { [$0.count] + e.shape.dropFirst() } ?? e.shape)
        precondition(outShape.reduce(1, *) == count, "shape \(outShape) does not hold \(count) values")
        let bytes = try t.file.rawBytes(t.name)
        let base = bytes.baseAddress! + first * e.dtype.byteSize
        switch e.dtype {
        case .f32:
            if Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                return Tensor(wrapping: base.assumingMemoryBound(to: Float.self), shape: outShape, owner: t.file)
            }
            // safetensors aligns data only to 8 bytes of the data section's start; a float32
            // tensor after an odd number of 16-bit values is misaligned and is copied.
            let copy = Tensor(uninitializedShape: outShape)
            UnsafeMutableRawPointer(copy.data).copyMemory(from: base, byteCount: count * 4)
            return copy
        case .f16:
            return Tensor(float16Bits: base, shape: outShape)
        case .bf16:
            return Tensor(bfloat16Bits: base, shape: outShape)
        case .f64:
            let out = Tensor(uninitializedShape: outShape)
            for i in 0..<count { out.data[i] = Float(base.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            return out
        default:
            throw CheckpointError.notACheckpoint(path: t.file.path, reason: "tensor \(t.name) has dtype \(e.dtype.rawValue); weights must be F32, F16, BF16 or F64")
        }
    }
}
