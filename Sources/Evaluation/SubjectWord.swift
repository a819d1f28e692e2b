// A subject's identifier in the samples' prompts ("sks", "<my-cat>") and the ordinary word that
// stands for it in a measure that never learnt the identifier (the class noun "dog", or textual
// inversion's initializer "cat"). The training job records them in samples/samples.json;
// `CLIPFeatureSpace` reads prompts with them (see `readable(_:)`).

public struct SubjectWord: Codable, Sendable, Equatable {
    /// The identifier as the recipe writes it (`subject.token`).
    public var token: String
    /// The class noun, else the initializer; nil when the subject has neither (a LoRA style).
    public var standIn: String?

    public init(token: String, standIn: String?) { self.token = token; self.standIn = standIn }

    /// `prompt` with each of `words`' identifiers replaced by its stand-in, or left out where the
    /// stand-in follows it already or there is none: "a photo of sks dog" → "a photo of dog",
    /// "sks on a beach" → "dog on a beach", "a <my-cat> toy" → "a cat toy". Words are compared
    /// without case (CLIP's tokenizer lower-cases) and without punctuation at their end.
    public static func readable(_ prompt: String, _ words: [SubjectWord]) -> String {
        guard !words.isEmpty else { return prompt }
        let chunks = prompt.split(whereSeparator: \.isWhitespace).map(String.init)
        func split(_ chunk: String) -> (core: String, tail: String) {
            let core = chunk.reversed().drop { ",.;:!?".contains($0) }.reversed()
            let text = String(core)
            return (text, String(chunk.dropFirst(text.count)))
        }
        var out: [String] = []
        for (i, chunk) in chunks.enumerated() {
            let (core, tail) = split(chunk)
            guard let word = words.first(where: { $0.token.lowercased() == core.lowercased() }) else {
                out.append(chunk); continue
            }
            let next = i + 1 < chunks.count ? split(chunks[i + 1]).core.lowercased() : nil
            if let standIn = word.standIn, !(tail.isEmpty && next == standIn.lowercased()) {
                out.append(standIn + tail)
            } else if !tail.isEmpty, !out.isEmpty {
                out[out.count - 1] += tail
            }
        }
        return out.joined(separator: " ")
    }
}
