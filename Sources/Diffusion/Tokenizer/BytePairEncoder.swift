import Synchronization

/// Byte-pair encoding of one pre-tokenized word, with CLIP's end-of-word marker.
///
/// The word's UTF-8 bytes become byte-level characters; the last one carries "</w>". Then, as
/// long as some adjacent pair is in the merge list, the pair with the lowest rank (earliest line
/// of merges.txt) is merged everywhere it occurs, left to right. Symbols are held as vocabulary
/// ids throughout, so a merge is one dictionary look-up on two integers.
///
/// Results are cached per word: prompts repeat the same words, and a caption set even more so.
final class BytePairEncoder: Sendable {
    private struct Merge { let rank: Int32; let merged: Int32 }

    private let merges: [UInt64: Merge]
    private let byteIDs: [Int32]          // byte → id of its character
    private let finalByteIDs: [Int32]     // byte → id of its character + "</w>"
    private let cache = Mutex<[String: [Int32]]>([:])
    private static let cacheLimit = 100_000

    static let endOfWord = "</w>"

    /// `mergeLines` are merges.txt's lines with their 1-based line numbers (for errors).
    init(vocabulary: [String: Int], mergeLines: [(line: Int, left: String, right: String)], file: String) throws {
        var byteIDs = [Int32](), finalByteIDs = [Int32]()
        for character in ByteLevelAlphabet.characters {
            let plain = String(character), final = plain + BytePairEncoder.endOfWord
            guard let id = vocabulary[plain], let finalID = vocabulary[final] else {
                throw TokenizerError.invalidFile(file, "the vocabulary lacks the byte-level character \"\(plain)\" or \"\(final)\"; expected CLIP's 512 byte-level entries")
            }
            byteIDs.append(Int32(id)); finalByteIDs.append(Int32(finalID))
        }
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(mergeLines.count)
        for (rank, m) in mergeLines.enumerated() {
            guard let l = vocabulary[m.left], let r = vocabulary[m.right], let merged = vocabulary[m.left + m.right] else {
                throw TokenizerError.invalidFile(file, "line \(m.line): merge \"\(m.left) \(m.right)\" uses a token missing from vocab.json")
            }
            let key = BytePairEncoder.key(Int32(l), Int32(r))
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), merged: Int32(merged)) }
        }
        self.merges = table
        self.byteIDs = byteIDs
        self.finalByteIDs = finalByteIDs
    }

    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    func encode(_ word: String) -> [Int32] {
        if let hit = cache.withLock({ $0[word] }) { return hit }
        let ids = merge(initialSymbols(word))
        cache.withLock { cache in
            if cache.count >= BytePairEncoder.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[word] = ids
        }
        return ids
    }

    private func initialSymbols(_ word: String) -> [Int32] {
        let bytes = Array(word.utf8)
        var symbols = bytes.map { byteIDs[Int($0)] }
        if let last = bytes.last { symbols[symbols.count - 1] = finalByteIDs[Int(last)] }
        return symbols
    }

    private func merge(_ start: [Int32]) -> [Int32] {
        var symbols = start
        while symbols.count > 1 {
            // The best-ranked pair present anywhere in the word.
            var best: Merge? = nil
            var bestPair: UInt64 = 0
            for i in 0..<(symbols.count - 1) {
                let pair = BytePairEncoder.key(symbols[i], symbols[i + 1])
                if let m = merges[pair], best == nil || m.rank < best!.rank { best = m; bestPair = pair }
            }
            guard let chosen = best else { break }
            // Merge every occurrence of that pair, scanning left to right.
            var next: [Int32] = []
            next.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && BytePairEncoder.key(symbols[i], symbols[i + 1]) == bestPair {
                    next.append(chosen.merged); i += 2
                } else {
                    next.append(symbols[i]); i += 1
                }
            }
            symbols = next
        }
        return symbols
    }
}
