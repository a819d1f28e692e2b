/// GPT-2's byte-level alphabet, which CLIP's BPE works in: every byte of UTF-8 text becomes one
/// printable character, so BPE never meets an unknown symbol and never splits whitespace or
/// control bytes into invisible tokens. Printable Latin-1 bytes stand for themselves; the other
/// 68 bytes are moved to U+0100 and up, in byte order.
enum ByteLevelAlphabet {
    /// character(for: byte) as a table indexed by byte.
    static let characters: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var shifted: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = Character(Unicode.Scalar(UInt32(byte))!)
            } else {
                table[byte] = Character(Unicode.Scalar(shifted)!)
                shifted += 1
            }
        }
        return table
    }()

    /// The inverse table: character → byte.
    static let bytes: [Character: UInt8] = {
        var inverse: [Character: UInt8] = [:]
        for (byte, character) in characters.enumerated() { inverse[character] = UInt8(byte) }
        return inverse
    }()

    /// "!"..."~", "¡"..."¬", "®"..."ÿ": the bytes that already print as a visible character.
    static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}
