// The words of the procedural world: what a scene can hold and how a caption names it.
//
// Every value has one caption word, and every caption word appears in CLIP's BPE vocabulary
// as a whole word, so the text encoder sees one token per attribute. `Shape.star` is held
// out: the pretraining sampler never draws it, so the demo and the learning tests can teach
// the model a subject it has never seen.

/// An object's outline.
public enum Shape: String, Sendable, CaseIterable, Codable {
    case circle
    case square
    case triangle
    /// Never rendered in pretraining: the new subject of the demo and the learning tests.
    case star

    /// Shapes the pretraining data may contain.
    public static let pretraining: [Shape] = allCases.filter { !$0.isHeldOut }
    /// Shapes reserved for teaching a new subject after pretraining.
    public static let heldOut: [Shape] = allCases.filter(\.isHeldOut)

    public var isHeldOut: Bool { self == .star }
    public var word: String { rawValue }
}

/// A named colour with its sRGB value. Far apart from one another so that both the model and
/// the world's measure can tell them apart after blurring and anti-aliasing.
public enum Colour: String, Sendable, CaseIterable, Codable {
    case red, green, blue, yellow, purple, orange, white, black

    public var rgb: RGB {
        switch self {
        case .red: return RGB(220, 40, 40)
        case .green: return RGB(40, 170, 60)
        case .blue: return RGB(40, 80, 220)
        case .yellow: return RGB(240, 210, 40)
        case .purple: return RGB(140, 60, 180)
        case .orange: return RGB(245, 140, 30)
        case .white: return RGB(245, 245, 245)
        case .black: return RGB(25, 25, 25)
        }
    }
    public var word: String { rawValue }
}

/// How large an object is drawn: its radius as a fraction of the image side.
public enum Size: String, Sendable, CaseIterable, Codable {
    case small, medium, large

    public var radius: Double {
        switch self {
        case .small: return 0.13
        case .medium: return 0.19
        case .large: return 0.27
        }
    }
    public var word: String { rawValue }
}

/// The texture that fills the background: its colour and a paler tint (stripes, checks) or a
/// darker shade (gradient).
public enum Pattern: String, Sendable, CaseIterable, Codable {
    case plain, striped, checkered, gradient
    public var word: String { rawValue }
}

/// A colour in 8-bit sRGB, with the mixing the renderer needs done in floats.
public struct RGB: Sendable, Equatable, Hashable, Codable {
    public var r: Double, g: Double, b: Double
    public init(_ r: Double, _ g: Double, _ b: Double) { self.r = r; self.g = g; self.b = b }

    /// self · (1 − t) + other · t.
    public func mixed(with other: RGB, _ t: Double) -> RGB {
        RGB(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t)
    }
    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)

    /// Squared Euclidean distance in sRGB bytes.
    public func distanceSquared(to o: RGB) -> Double {
        let (dr, dg, db) = (r - o.r, g - o.g, b - o.b)
        return dr * dr + dg * dg + db * db
    }
}
