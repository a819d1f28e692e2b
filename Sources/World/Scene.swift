// One scene of the world and the caption that describes it.
//
//   "a large red circle and a small blue square on a striped green background"
//
// Objects are named left to right (by their centres), so a caption's order says where things
// are, and two scenes that differ only in object order have the same caption.

/// One object: a shape of a colour and size, centred at (x, y) in [0, 1] image coordinates
/// (y down).
public struct SceneObject: Sendable, Equatable, Codable {
    public var shape: Shape
    public var colour: Colour
    public var size: Size
    public var x: Double
    public var y: Double

    public init(shape: Shape, colour: Colour, size: Size, x: Double = 0.5, y: Double = 0.5) {
        self.shape = shape; self.colour = colour; self.size = size; self.x = x; self.y = y
    }

    /// "a large red circle"
    public var phrase: String { "a \(size.word) \(colour.word) \(shape.word)" }
}

public struct Background: Sendable, Equatable, Codable {
    public var pattern: Pattern
    public var colour: Colour
    public init(pattern: Pattern, colour: Colour) { self.pattern = pattern; self.colour = colour }

    /// "a striped green background"
    public var phrase: String { "a \(pattern.word) \(colour.word) background" }
}

public struct Scene: Sendable, Equatable, Codable {
    public var background: Background
    /// Drawn in this order (later ones on top); captioned left to right.
    public var objects: [SceneObject]

    public init(background: Background, objects: [SceneObject]) {
        self.background = background; self.objects = objects
    }

    /// Objects left to right, the order the caption names them.
    public var objectsLeftToRight: [SceneObject] { objects.sorted { $0.x < $1.x } }

    /// The full description: every object, then the background.
    public var caption: String {
        let phrases = objectsLeftToRight.map(\.phrase)
        let things: String
        switch phrases.count {
        case 0: return background.phrase
        case 1: things = phrases[0]
        case 2: things = "\(phrases[0]) and \(phrases[1])"
        default: things = phrases.dropLast().joined(separator: ", ") + " and " + phrases.last!
        }
        return "\(things) on \(background.phrase)"
    }

    /// Whether any object has a held-out shape (such scenes never reach pretraining).
    public var containsHeldOutSubject: Bool { objects.contains { $0.shape.isHeldOut } }
}
