// What a prompt asks of a world image, read with the world's vocabulary: the objects it names
// (a colour and/or a shape; a size word is kept but not checked) and the background (a colour
// and/or a pattern). Words the world does not know are skipped, so a subject token stays out of
// the way: "a large yellow sks star on a plain purple background" asks for a yellow star on
// purple. Articles and joining words ("a", "and", "on", ",") end a phrase.

import World

public struct WorldCaption: Sendable, Equatable {
    public struct Object: Sendable, Equatable {
        public var size: Size?
        public var colour: Colour?
        public var shape: Shape?
    }

    public var objects: [Object]
    public var backgroundColour: Colour?
    public var backgroundPattern: Pattern?

    /// True when the prompt names nothing the world's measure can check.
    public var isEmpty: Bool { objects.isEmpty && backgroundColour == nil }

    static let phraseBreaks: Set<String> = ["a", "an", "the", "and", "on", "with", "in", "of", "next", "beside"]

    public init(_ prompt: String) {
        let words = prompt.lowercased().split { !$0.isLetter }.map(String.init)
        var objects: [Object] = []
        var size: Size?, colour: Colour?, pattern: Pattern?
        var backgroundColour: Colour?, backgroundPattern: Pattern?
        func endPhrase() {
            // A colour left without a shape or "background" is an object of that colour
            // ("a photo of a yellow sks"); a lone size or pattern says nothing checkable.
            if let colour { objects.append(Object(size: size, colour: colour, shape: nil)) }
            size = nil; colour = nil; pattern = nil
        }
        for word in words {
            if let s = Shape(rawValue: word) {
                objects.append(Object(size: size, colour: colour, shape: s))
                size = nil; colour = nil; pattern = nil
            } else if word == "background" || word == "backgrounds" {
                if colour != nil { backgroundColour = colour }
                if pattern != nil { backgroundPattern = pattern }
                size = nil; colour = nil; pattern = nil
            } else if let c = Colour(rawValue: word) {
                if colour != nil { endPhrase() }
                colour = c
            } else if let s = Size(rawValue: word) {
                size = s
            } else if let p = Pattern(rawValue: word) {
                pattern = p
            } else if Self.phraseBreaks.contains(word) {
                endPhrase()
            }
        }
        endPhrase()
        self.objects = objects; self.backgroundColour = backgroundColour; self.backgroundPattern = backgroundPattern
    }
}
