import Foundation

/// Everything that decides what a set of class images looks like, and so where they are cached.
/// DreamBooth's prior preservation trains against pictures the base model itself draws for the
/// class prompt ("a photo of a person"); two jobs whose requests are equal can share them.
public struct ClassImageRequest: Sendable, Hashable, Codable {
    /// The base model, as `ClassImageCache.modelIdentity(checkpointPath:)` names it.
    public var modelIdentity: String
    public var prompt: String
    public var negativePrompt: String
    /// Width and height in pixels (square images).
    public var resolution: Int
    public var steps: Int
    public var guidance: Double
    /// A `SamplerKind` raw value ("dpmpp_2m", "euler", "ddim", ...).
    public var sampler: String
    /// Karras sigma spacing (Euler and DPM-Solver++ 2M only).
    public var karras: Bool

    public init(modelIdentity: String, prompt: String, negativePrompt: String = "", resolution: Int,
                steps: Int = 25, guidance: Double = 7.5, sampler: String = "dpmpp_2m", karras: Bool = false) {
        self.modelIdentity = modelIdentity; self.prompt = prompt; self.negativePrompt = negativePrompt
        self.resolution = resolution; self.steps = steps; self.guidance = guidance
        self.sampler = sampler; self.karras = karras
    }

    /// The folder name under the cache: a readable part (prompt words, size) for people browsing
    /// the state directory, then a hash of every field, which is what makes it unique.
    /// Stable across processes and versions (FNV-1a over a fixed text, not Swift's seeded Hasher).
    public var cacheKey: String {
        let slug = ClassImageRequest.slug(prompt, maxLength: 40)
        let hash = String(StableHash.fnv1a64(canonicalText), radix: 16)
        return "\(slug.isEmpty ? "class" : slug)-\(resolution)px-\(String(repeating: "0", count: 16 - hash.count))\(hash)"
    }

    /// One field per line, in a fixed order. The cache layout version comes first: a change to
    /// how images are generated (seeds, noise source) must start a new folder, not mix with old.
    var canonicalText: String {
        [
            "layout=\(ClassImageCache.layoutVersion)",
            "model=\(modelIdentity)",
            "prompt=\(prompt)",
            "negative=\(negativePrompt)",
            "resolution=\(resolution)",
            "steps=\(steps)",
            "guidance=\(guidance)",
            "sampler=\(sampler)",
            "karras=\(karras)",
            "rng=torch",
        ].joined(separator: "\n")
    }

    /// Lowercase ASCII letters and digits of `text`, other runs collapsed to one "-".
    static func slug(_ text: String, maxLength: Int) -> String {
        var out = ""
        for scalar in text.lowercased().unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else if !out.isEmpty, out.last != "-" {
                out.append("-")
            }
            if out.count >= maxLength { break }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out
    }
}

/// 64-bit FNV-1a: a fixed, seedless hash for naming cache folders (not for security).
enum StableHash {
    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
