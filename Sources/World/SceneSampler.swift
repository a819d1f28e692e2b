// Random scenes, addressed by index: scene i of a sampler is a pure function of (seed, i),
// so a training run that resumes at step s draws exactly the scenes it would have drawn.
//
// The pretraining sampler never draws a held-out shape (`Shape.heldOut`); the subject
// sampler draws scenes of one given subject (the demo's and the learning tests' photos).

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough to pick scene attributes.
public struct SplitMix64: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
    public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
    public mutating func pick<T>(_ items: [T]) -> T { items[int(below: items.count)] }
}

public struct SceneSampler: Sendable {
    public var seed: UInt64
    /// The shapes objects may have.
    public var shapes: [Shape]
    public var maxObjects: Int

    /// Scenes for pretraining: 1–3 objects, never a held-out shape.
    public static func pretraining(seed: UInt64) -> SceneSampler {
        SceneSampler(seed: seed, shapes: Shape.pretraining, maxObjects: 3)
    }

    public init(seed: UInt64, shapes: [Shape], maxObjects: Int) {
        precondition(!shapes.isEmpty && maxObjects >= 1, "a sampler needs shapes and at least one object")
        self.seed = seed; self.shapes = shapes; self.maxObjects = maxObjects
    }

    /// Scene number `index`.
    public func scene(_ index: Int) -> Scene {
        var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        let background = Background(pattern: rng.pick(Pattern.allCases), colour: rng.pick(Colour.allCases))
        let count = 1 + rng.int(below: maxObjects)
        var objects: [SceneObject] = []
        for _ in 0..<count {
            let colours = Colour.allCases.filter { $0 != background.colour }
            let candidate = SceneObject(shape: rng.pick(shapes), colour: rng.pick(colours), size: rng.pick(Size.allCases))
            if let placed = SceneSampler.place(candidate, among: objects, rng: &rng) { objects.append(placed) }
        }
        return Scene(background: background, objects: objects)
    }

    /// A scene of one subject (a given shape and colour, any size, position and background
    /// other than the subject's colour), alone: the photos a user would drop in the inbox.
    public static func subject(_ shape: Shape, colour: Colour, seed: UInt64, index: Int) -> Scene {
        var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        let background = Background(pattern: rng.pick(Pattern.allCases), colour: rng.pick(Colour.allCases.filter { $0 != colour }))
        let object = SceneObject(shape: shape, colour: colour, size: rng.pick([Size.medium, .large]))
        let placed = place(object, among: [], rng: &rng) ?? object
        return Scene(background: background, objects: [placed])
    }

    /// The object at a random position inside the image that does not overlap the others
    /// (bounding circles apart); nil after a few failed tries (the scene gets fewer objects).
    static func place(_ object: SceneObject, among others: [SceneObject], rng: inout SplitMix64) -> SceneObject? {
        let r = object.size.radius
        for _ in 0..<20 {
            var o = object
            o.x = r + rng.unit() * (1 - 2 * r)
            o.y = r + rng.unit() * (1 - 2 * r)
            let clear = others.allSatisfy { other in
                let (dx, dy) = (other.x - o.x, other.y - o.y)
                let gap = other.size.radius + r + 0.02
                return dx * dx + dy * dy >= gap * gap
            }
            if clear { return o }
        }
        return nil
    }
}
