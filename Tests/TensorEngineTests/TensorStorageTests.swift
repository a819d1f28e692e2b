import Foundation
import Testing
import ModelIO
@testable import TensorEngine

@Suite struct TensorStorageTests {
    private func writeCheckpoint() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("engine-storage-\(UUID().uuidString).safetensors").path
        var w = SafeTensorsWriter()
        w.add("f32", shape: [2, 3], values: [1, -2, 3.5, 4, 5, -6.25])
        w.add("f16", shape: [3], values: [0.5, -1.5, 1000], dtype: .f16)
        w.add("bf16", shape: [2], values: [3.140625, -0.5], dtype: .bf16)
        try w.write(to: path)
        return path
    }

    @Test func wrapsMemoryMappedFloat32WithoutCopyAndKeepsTheFileAlive() throws {
        let path = try writeCheckpoint()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tensor: Tensor = try {
            let file = try SafeTensorsFile(path: path)
            let bytes = try file.rawBytes("f32")
            return Tensor(wrapping: bytes.baseAddress!.assumingMemoryBound(to: Float.self), shape: [2, 3], owner: file)
        }()
        // The file object is only referenced by the tensor's storage now.
        #expect(tensor.scalars == [1, -2, 3.5, 4, 5, -6.25])
        #expect(!tensor.storage.isWritable)
        // Ops read from it like any tensor.
        #expect(mean(tensor).item == 5.25 / 6)
    }

    @Test func widensFloat16AndBFloat16() throws {
        let path = try writeCheckpoint()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        let half = Tensor(float16Bits: try file.rawBytes("f16").baseAddress!, shape: [3])
        #expect(half.scalars == [0.5, -1.5, 1000])
        let brain = Tensor(bfloat16Bits: try file.rawBytes("bf16").baseAddress!, shape: [2])
        #expect(brain.scalars == [3.140625, -0.5])
    }

    @Test func permutedCopiesAndReshapedShares() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p.storage !== x.storage)
        // p[k, i, j] = x[i, j, k]
        #expect(p.data[1 * 6 + 1 * 3 + 2] == x.data[1 * 12 + 2 * 4 + 1])
        #expect(x.reshaped([6, 4]).storage === x.storage)
    }
}

@Suite struct EngineMemoryTests {
    @Test func freedLargeBuffersAreReusedAndCounted() {
        // Other tests allocate concurrently, so only this test's own effects are checked.
        let shape = [1, 123_457]   // an unusual size no other test allocates
        var first: Tensor? = Tensor(zeros: shape)
        let address = first!.data
        #expect(EngineMemory.peakBytes >= 123_457 * 4)
        first = nil
        let second = Tensor(uninitializedShape: shape)
        #expect(second.data == address)
    }

    /// Buffers from 4 MiB on are mapped at a 2 MiB boundary (where huge pages can back them),
    /// zeroed, and writable to their last byte; sizes between huge pages keep their tail.
    @Test(arguments: [4 << 20, (6 << 20) + 4096 * 3])
    func largeBuffersAreHugePageAligned(bytes: Int) {
        let p = HugePages.allocate(bytes: bytes)
        #expect(UInt(bitPattern: p) % UInt(HugePages.pageBytes) == 0)
        let floats = p.assumingMemoryBound(to: Float.self)
        let count = bytes / 4
        #expect(floats[0] == 0 && floats[count / 2] == 0 && floats[count - 1] == 0)
        floats[0] = 1; floats[count - 1] = 2
        #expect(floats[0] + floats[count - 1] == 3)
        HugePages.free(p, bytes: bytes)
    }
}

@Suite struct HalfTensorTests {
    @Test(arguments: [HalfTensor.Format.float16, .bfloat16])
    func narrowsAndWidensLikePyTorch(format: HalfTensor.Format) {
        let values: [Float] = [0, 1, -2.5, 0.1, 3.14159, 65504, 1e-3, -7.0e-5]
        let h = HalfTensor(Tensor(values, shape: [2, 4]), format: format)
        let w = h.widened()
        #expect(w.shape == [2, 4])
        let expected: [Float] = format == .float16 ? values.map { Float(Float16($0)) } : values.map { Float(bitPattern: UInt32(bfloat16Bits($0)) << 16) }
        #expect(w.scalars == expected)
    }
}
