import Testing
@testable import Service

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hash(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func streamingInPiecesEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var pieces = SHA256()
        var start = 0
        for size in [1, 63, 64, 65, 200, 7] + Array(repeating: 100, count: 6) where start < bytes.count {
            let end = min(bytes.count, start + size)
            pieces.update(bytes[start..<end])
            start = end
        }
        pieces.update(bytes[start...])
        #expect(SHA256.hex(pieces.finalize()) == SHA256.hash(bytes))
    }
}
