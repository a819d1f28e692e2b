/// Finds whole tokens (special or added) in text before the BPE path sees it: at each position
/// the longest token that starts there wins, scanning left to right, as the reference tokenizer's
/// added-vocabulary matcher does.
enum TokenMatcher {
    struct Entry: Sendable {
        let text: String
        let scalars: [Unicode.Scalar]
        let id: Int
        init(_ text: String, _ id: Int) { self.text = text; self.scalars = Array(text.unicodeScalars); self.id = id }
    }

    enum Piece: Equatable { case text(String), token(Int) }

    static func split(_ text: String, on entries: [Entry]) -> [Piece] {
        if entries.isEmpty { return [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        var pieces: [Piece] = []
        var plainStart = 0, i = 0
        func flushPlain(upTo end: Int) {
            if end > plainStart {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[plainStart..<end])
                pieces.append(.text(String(view)))
            }
        }
        while i < scalars.count {
            var best: Entry? = nil
            for entry in entries where entry.scalars.count > (best?.scalars.count ?? 0) && i + entry.scalars.count <= scalars.count {
                if scalars[i..<(i + entry.scalars.count)].elementsEqual(entry.scalars) { best = entry }
            }
            if let match = best {
                flushPlain(upTo: i)
                pieces.append(.token(match.id))
                i += match.scalars.count
                plainStart = i
            } else {
                i += 1
            }
        }
        flushPlain(upTo: scalars.count)
        return pieces
    }
}
