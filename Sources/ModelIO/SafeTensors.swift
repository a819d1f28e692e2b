// safetensors: an 8-byte little-endian header length, a JSON header mapping each tensor name to
// {dtype, shape, data_offsets: [begin, end]} (offsets relative to the end of the header), an
// optional "__metadata__" object of string → string, then the raw little-endian tensor bytes.
//
// Files are memory-mapped read-only: a multi-GB checkpoint costs address space, not memory, and
// a tensor's bytes are touched only when it is converted. Offsets are 64-bit throughout, so
// files over 4 GiB work.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case malformed(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case unsupportedDType(path: String, name: String, dtype: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "\(path): cannot open: \(reason)"
        case .malformed(let path, let reason): return "\(path): not a valid safetensors file: \(reason)"
        case .missingTensor(let path, let name): return "\(path): has no tensor named '\(name)'"
        case .unsupportedDType(let path, let name, let dtype):
            return "\(path): tensor '\(name)' has dtype \(dtype); expected F32, F16 or BF16"
        }
    }
}

/// The element types dropbooth reads and writes. Other safetensors dtypes are listed so that an
/// error can name them; only the floating-point ones convert to Float.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// One memory-mapped safetensors file.
public final class SafeTensorsFile: @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        /// Absolute byte offset of the tensor's data in the file.
        public let offset: Int
        public let byteCount: Int
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let mappedLength: Int

    /// Tensor names in file order (by data offset), so iteration is deterministic.
    public var names: [String] { entries.sorted { $0.value.offset < $1.value.offset }.map(\.key) }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError.cannotOpen(path: path, reason: "not a regular file") }
        let length = Int(st.st_size)
        guard length >= 8 else { throw SafeTensorsError.malformed(path: path, reason: "file is \(length) bytes, shorter than the 8-byte header length") }
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw SafeTensorsError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(mapped)
        do {
            let headerLength = Int(UInt64(littleEndian: base.loadUnaligned(as: UInt64.self)))
            // The format caps the header at 100 MB; anything larger is corrupt or hostile.
            guard headerLength > 0, headerLength <= 100_000_000, 8 + headerLength <= length else {
                throw SafeTensorsError.malformed(path: path, reason: "header length \(headerLength) does not fit a file of \(length) bytes")
            }
            let headerData = Data(bytes: base + 8, count: headerLength)
            guard let json = try? JSONSerialization.jsonObject(with: headerData), let header = json as? [String: Any] else {
                throw SafeTensorsError.malformed(path: path, reason: "header is not a JSON object")
            }
            let dataStart = 8 + headerLength
            var entries: [String: Entry] = [:]
            var metadata: [String: String] = [:]
            for (name, value) in header {
                if name == "__metadata__" {
                    guard let dict = value as? [String: Any] else { throw SafeTensorsError.malformed(path: path, reason: "__metadata__ is not an object") }
                    for (k, v) in dict {
                        guard let s = v as? String else { throw SafeTensorsError.malformed(path: path, reason: "__metadata__ value for '\(k)' is not a string") }
                        metadata[k] = s
                    }
                    continue
                }
                guard let info = value as? [String: Any],
                      let dtypeName = info["dtype"] as? String,
                      let shapeAny = info["shape"] as? [Any],
                      let offsetsAny = info["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                    throw SafeTensorsError.malformed(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
                }
                guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                    throw SafeTensorsError.unsupportedDType(path: path, name: name, dtype: dtypeName)
                }
                let shape = try shapeAny.map { (d: Any) -> Int in
                    guard let n = (d as? NSNumber)?.int64Value, n >= 0 else { throw SafeTensorsError.malformed(path: path, reason: "entry '\(name)' has a bad shape") }
                    return Int(n)
                }
                let offsets = try offsetsAny.map { (d: Any) -> Int in
                    guard let n = (d as? NSNumber)?.int64Value, n >= 0 else { throw SafeTensorsError.malformed(path: path, reason: "entry '\(name)' has bad data_offsets") }
                    return Int(n)
                }
                let (count, overflow) = shape.reduce((1, false)) { acc, d in
                    let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
                }
                guard !overflow, offsets[1] >= offsets[0], offsets[1] - offsets[0] == count * dtype.byteSize,
                      dataStart + offsets[1] <= length else {
                    throw SafeTensorsError.malformed(path: path, reason: "entry '\(name)': data_offsets \(offsets) do not match shape \(shape) × \(dtype.byteSize) bytes within the file")
                }
                entries[name] = Entry(dtype: dtype, shape: shape, offset: dataStart + offsets[0], byteCount: offsets[1] - offsets[0])
            }
            self.entries = entries
            self.metadata = metadata
            self.base = base
            self.mappedLength = length
        } catch {
            munmap(mapped, length)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    /// Lets go of the file's pages this process has read. A loader calls it once a model is
    /// built: the tensors copied out of the mapping (permuted conv weights, widened float16)
    /// no longer need their source pages, which would otherwise stay resident beside the
    /// copies for as long as the file is open (4 GB of SD 1.5 counted twice); tensors that
    /// wrap the mapping in place read their pages back from the page cache on next use.
    /// The mapping is private and read-only, so nothing is lost.
    public func releaseResidentPages() {
        madvise(UnsafeMutableRawPointer(mutating: base), mappedLength, MADV_DONTNEED)
    }

    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw SafeTensorsError.missingTensor(path: path, name: name) }
        return e
    }

    /// The raw bytes of a tensor, valid as long as this file object lives.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let e = try entry(name)
        return UnsafeRawBufferPointer(start: base + e.offset, count: e.byteCount)
    }

    /// Converts a floating-point tensor to Float (F32 copied, F16/BF16 widened, F64 narrowed) into `destination`,
    /// which must hold `entry.elementCount` values.
    public func readFloats(_ name: String, into destination: UnsafeMutablePointer<Float>) throws {
        let e = try entry(name)
        let src = base + e.offset
        let n = e.elementCount
        switch e.dtype {
        case .f32:
            memcpy(destination, src, n * 4)
        case .f16:
            for i in 0..<n { destination[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<n { destination[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .f64:
            for i in 0..<n { destination[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        default:
            throw SafeTensorsError.unsupportedDType(path: path, name: name, dtype: e.dtype.rawValue)
        }
    }

    /// A tensor's values as Float.
    public func floats(_ name: String) throws -> [Float] {
        let n = try entry(name).elementCount
        return try [Float](unsafeUninitializedCapacity: n) { buf, count in
            try readFloats(name, into: buf.baseAddress!)
            count = n
        }
    }

    /// An integer tensor (I64/I32/I16/I8/U8/BOOL) as Int, e.g. token ids in fixtures.
    public func ints(_ name: String) throws -> [Int] {
        let e = try entry(name)
        let src = base + e.offset
        return try (0..<e.elementCount).map { i -> Int in
            switch e.dtype {
            case .i64: return Int(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
            case .i32: return Int(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            case .i16: return Int(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
            case .i8: return Int(src.loadUnaligned(fromByteOffset: i, as: Int8.self))
            case .u8, .bool: return Int(src.loadUnaligned(fromByteOffset: i, as: UInt8.self))
            default: throw SafeTensorsError.unsupportedDType(path: path, name: name, dtype: e.dtype.rawValue)
            }
        }
    }
}

/// Writes a safetensors file. Tensors are given as Float and stored in the chosen dtype; the file
/// is written to `<path>.partial` and renamed into place, so a reader never sees half a file.
public struct SafeTensorsWriter {
    public struct Tensor {
        public var shape: [Int]
        public var values: [Float]
        public var dtype: SafeTensorsDType
        public init(shape: [Int], values: [Float], dtype: SafeTensorsDType = .f32) {
            precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
            precondition([.f32, .f16, .bf16].contains(dtype), "SafeTensorsWriter stores F32, F16 or BF16")
            self.shape = shape; self.values = values; self.dtype = dtype
        }
    }

    public var tensors: [(name: String, tensor: Tensor)] = []
    public var metadata: [String: String] = [:]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    public mutating func add(_ name: String, shape: [Int], values: [Float], dtype: SafeTensorsDType = .f32) {
        tensors.append((name, Tensor(shape: shape, values: values, dtype: dtype)))
    }

    /// The whole file as bytes.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, t) in tensors {
            let size = t.values.count * t.dtype.byteSize
            header[name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to a multiple of 8 so the data is aligned, as the reference writer does.
        while (json.count % 8) != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors {
            switch t.dtype {
            case .f32:
                t.values.withUnsafeBytes { out.append(contentsOf: $0) }
            case .f16:
                let halves = t.values.map { Float16($0).bitPattern.littleEndian }
                halves.withUnsafeBytes { out.append(contentsOf: $0) }
            case .bf16:
                let halves = t.values.map { bfloat16Bits($0).littleEndian }
                halves.withUnsafeBytes { out.append(contentsOf: $0) }
            default:
                preconditionFailure("unreachable: checked in Tensor.init")
            }
        }
        return out
    }

    public func write(to path: String) throws {
        let partial = path + ".partial"
        try serialized().write(to: URL(fileURLWithPath: partial))
        guard rename(partial, path) == 0 else {
            throw SafeTensorsError.cannotOpen(path: path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// Float → bfloat16 with round-to-nearest-even (NaN kept a NaN), as PyTorch converts.
@inlinable
public func bfloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(bits >> 16) | 0x40 }
    let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16((bits &+ roundingBias) >> 16)
}
