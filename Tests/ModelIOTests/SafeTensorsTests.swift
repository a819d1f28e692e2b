import Foundation
import Testing
@testable import ModelIO

@Suite struct SafeTensorsTests {
    func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-\(UUID().uuidString)-\(name)").path
    }

    @Test func roundTripsF32F16BF16AndMetadata() throws {
        let values: [Float] = [0, 1, -2.5, 3.140625, 65504, -0.0009765625]
        var w = SafeTensorsWriter(metadata: ["format": "pt", "method": "lora"])
        w.add("a.weight", shape: [2, 3], values: values)
        w.add("b", shape: [6], values: values, dtype: .f16)
        w.add("c", shape: [3, 2], values: values, dtype: .bf16)
        let path = tempPath("rt.safetensors")
        try w.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try SafeTensorsFile(path: path)
        #expect(f.metadata == ["format": "pt", "method": "lora"])
        #expect(f.names == ["a.weight", "b", "c"])
        #expect(try f.entry("a.weight").shape == [2, 3])
        #expect(try f.floats("a.weight") == values)
        #expect(try f.floats("b") == values.map { Float(Float16($0)) })
        // bf16 keeps 8 mantissa bits: 3.140625 and 65504 round.
        #expect(try f.floats("c") == [0, 1, -2.5, 3.140625, 65536, -0.0009765625])
        #expect(throws: SafeTensorsError.missingTensor(path: path, name: "nope")) { try f.floats("nope") }
    }

    @Test func refusesTruncatedAndLyingHeaders() throws {
        var w = SafeTensorsWriter()
        w.add("x", shape: [4], values: [1, 2, 3, 4])
        let good = try w.serialized()
        let path = tempPath("bad.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try good.prefix(good.count - 4).write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
        var huge = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { huge.append(contentsOf: $0) }
        huge.append(contentsOf: [UInt8](repeating: 0x20, count: 16))
        try huge.write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
    }

    /// Offsets past 4 GiB: a sparse file, so the test costs no disk.
    @Test func readsTensorsBeyondFourGiB() throws {
        let path = tempPath("big.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let gap = (1 << 32) + 64
        let header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[\(gap)],\"data_offsets\":[0,\(gap)]},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\(gap),\(gap + 8)]}}"
        var bytes = Data()
        var h = Data(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(h)
        FileManager.default.createFile(atPath: path, contents: bytes)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(bytes.count + gap))
        [Float(7), Float(-8)].withUnsafeBytes { handle.write(Data($0)) }
        try handle.close()
        let f = try SafeTensorsFile(path: path)
        #expect(try f.floats("x") == [7, -8])
    }
}
