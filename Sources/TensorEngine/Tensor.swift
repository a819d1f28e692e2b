// Tensor: float32 values, row-major and contiguous, with a shape.
//
// Layout convention: images and feature maps are channels-last, [N, H, W, C] (NHWC). Channels
// are the innermost dimension so that a pixel's channels are contiguous: a 1x1 convolution or a
// linear layer over channels is one GEMM over [N·H·W, C], im2col rows are contiguous runs, group
// norm walks contiguous channel slices, and attention over H·W tokens needs no transpose.
// Checkpoints store PyTorch's NCHW/OIHW; they are permuted once at load.
//
// There are no strides: every tensor is contiguous. `reshaped` shares storage (free);
// `permuted` copies (one pass, parallel), which is cheap next to the GEMMs around it.

#if canImport(Glibc)
import Glibc
#endif

/// The memory behind a tensor: either owned (64-byte aligned, from `EngineMemory`, returned on
/// deinit) or an
/// external buffer (e.g. a float32 region of a memory-mapped safetensors file) kept alive by
/// `owner`. External buffers may be read-only mappings: the engine never writes into a tensor
/// it did not allocate (`isWritable` is false for them).
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Keeps an external buffer alive (e.g. the SafeTensorsFile whose mapping this points into).
    public let owner: AnyObject?
    public let isWritable: Bool
    private let ownsMemory: Bool

    /// Owned, uninitialised memory for `count` floats.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0)
        let raw = EngineMemory.allocate(bytes: max(1, count) * 4)
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        self.count = count
        owner = nil
        isWritable = true
        ownsMemory = true
    }

    /// Wraps memory the engine does not own; `owner` is retained for as long as this storage lives.
    public init(external pointer: UnsafePointer<Float>, count: Int, owner: AnyObject?, writable: Bool = false) {
        self.pointer = UnsafeMutablePointer(mutating: pointer)
        self.count = count
        self.owner = owner
        isWritable = writable
        ownsMemory = false
    }

    deinit {
        if ownsMemory { EngineMemory.release(UnsafeMutableRawPointer(pointer), bytes: max(1, count) * 4) }
    }
}

public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let storage: TensorStorage
    /// Number of elements (product of `shape`; 1 for a scalar of shape []).
    public let count: Int

    /// Whether gradients flow to this tensor. Set it on leaves (parameters); results of ops
    /// have it when any input had it (while recording).
    public var requiresGrad: Bool {
        get { isTrainableLeaf || gradNode != nil }
        set {
            precondition(gradNode == nil, "requiresGrad can only be set on a leaf tensor, not on the result of an op")
            isTrainableLeaf = newValue
        }
    }
    private var isTrainableLeaf = false

    /// The accumulated gradient of a leaf after `backward()`. Nil until a gradient arrives;
    /// frozen tensors never get one. Successive backward passes add to it (as in PyTorch).
    public var grad: Tensor?

    /// The op that produced this tensor, while it is part of a recorded graph.
    var gradNode: GradNode?

    // MARK: Creation

    /// Uninitialised values: for kernels that write every element.
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        storage = TensorStorage(uninitializedCount: count)
    }

    /// Shares an existing storage (which must hold at least as many elements as `shape`).
    public init(shape: [Int], storage: TensorStorage) {
        let n = shape.reduce(1, *)
        precondition(storage.count >= n, "storage of \(storage.count) floats is too small for shape \(shape)")
        self.shape = shape
        count = n
        self.storage = storage
    }

    public convenience init(zeros shape: [Int]) {
        self.init(uninitializedShape: shape)
        data.initialize(repeating: 0, count: count)
    }

    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(uninitializedShape: shape)
        data.initialize(repeating: value, count: count)
    }

    public convenience init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        self.init(uninitializedShape: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    /// Wraps float32 memory owned by someone else (a memory-mapped checkpoint): no copy. The
    /// tensor is read-only; `owner` is retained as long as the tensor's storage lives.
    public convenience init(wrapping pointer: UnsafePointer<Float>, shape: [Int], owner: AnyObject?) {
        // safetensors only guarantees 8-byte alignment of the data section; a float32 tensor
        // after an odd-length float16 one is misaligned and must be copied instead.
        precondition(Int(bitPattern: pointer) % MemoryLayout<Float>.alignment == 0, "cannot wrap a misaligned float32 buffer; copy it")
        let n = shape.reduce(1, *)
        self.init(shape: shape, storage: TensorStorage(external: pointer, count: n, owner: owner))
    }

    /// Widens IEEE float16 values (little-endian, possibly unaligned) into a new tensor.
    public convenience init(float16Bits source: UnsafeRawPointer, shape: [Int]) {
        self.init(uninitializedShape: shape)
        let dst = data
        parallelChunks(count, minimumPerThread: 1 << 16) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let h = SIMD8<UInt32>(truncatingIfNeeded: source.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self))
                UnsafeMutableRawPointer(dst + i).storeBytes(of: widenFloat16(h), as: SIMD8<Float>.self)
                i += 8
            }
            while i < range.upperBound {
                dst[i] = Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                i += 1
            }
        }
    }

    /// Widens bfloat16 values (the upper 16 bits of a float32; little-endian) into a new tensor.
    public convenience init(bfloat16Bits source: UnsafeRawPointer, shape: [Int]) {
        self.init(uninitializedShape: shape)
        let dst = data
        parallelChunks(count, minimumPerThread: 1 << 16) { range in
            for i in range {
                dst[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        }
    }

    // MARK: Access

    /// The values. Kernels read and write through this; do not write into a read-only
    /// (memory-mapped) tensor, see `TensorStorage.isWritable`.
    public var data: UnsafeMutablePointer<Float> { storage.pointer }
    public var rank: Int { shape.count }
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, shape is \(shape)")
        return data[0]
    }

    public var description: String {
        let head = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")]\(requiresGrad ? ", requiresGrad" : ""))"
    }

    /// A fresh, owned, writable copy of the values, outside any graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        copyFloats(from: data, to: t.data, count: count)
        return t
    }

    /// The same values (shared storage) outside the graph: gradients stop here.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Size of dimension `i`; negative `i` counts from the end.
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }
}

/// A parallel memcpy.
func copyFloats(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
    parallelChunks(count, minimumPerThread: 1 << 18) { r in
        (dst + r.lowerBound).update(from: src + r.lowerBound, count: r.count)
    }
}

/// float16 bit patterns (in the low 16 bits of each lane) → float32, exactly as
/// Float(Float16(bitPattern:)) converts, in vector registers: without F16C Swift converts one
/// value at a time through a library call. Exponent and mantissa shifted into float32's
/// fields read as 2^(e−127)·1.m; multiplying by 2^112 rebiases to 2^(e−15)·1.m, and turns a
/// half subnormal (e = 0, then a float32 subnormal) into the right normal float exactly.
/// Infinities and NaNs (e = 31) get float32's all-ones exponent, mantissa kept.
@inline(__always)
func widenFloat16(_ h: SIMD8<UInt32>) -> SIMD8<Float> {
    let magnitude = h & 0x7FFF
    let scaled = unsafeBitCast(magnitude &<< 13, to: SIMD8<Float>.self) * Float(bitPattern: 0x7780_0000)  // · 2^112
    // magnitude ≥ 0x7C00 (exponent 31) exactly when adding 0x400 carries into bit 15.
    let special = (SIMD8<UInt32>(repeating: 0) &- ((magnitude &+ 0x400) &>> 15)) & 0x7F80_0000
    let sign = (h & 0x8000) &<< 16
    return unsafeBitCast(unsafeBitCast(scaled, to: SIMD8<UInt32>.self) | special | sign, to: SIMD8<Float>.self)
}
