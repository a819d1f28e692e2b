// The default model's measure: images of the procedural world (Sources/World) read by the
// world's own rules (`SceneMeasure`) instead of a learnt encoder.
//
// Features (one vector, three blocks, each L2-normalised and weighted so that the cosine of
// two images is 0.5 · cos(shape) + 0.3 · cos(object colour) + 0.2 · cos(colour histogram)):
//   - shape: the main object's closeness to each shape template (`RegionShape.match`), so a
//     star is near a star and far from a circle even when both are blurred;
//   - object colour: one-hot of the main object's colour;
//   - colour histogram: the fraction of pixels nearest each named colour (mostly background).
// The main object is the largest one-colour region that is not the background: the most
// frequent colour is taken as the background, and regions spanning (nearly) the whole width or
// height are background bands (stripes, the dark end of a gradient), not objects.
//
// Prompt fidelity checks what the prompt names (`WorldCaption`) in the image: each object's
// colour and shape (`SceneMeasure.subjectScore`; a colour alone: whether a region of it is
// there; a shape alone: the best match among the non-background colours) and the background
// colour (its pixel fraction, full marks from 20 %: a gradient keeps the named colour in its
// top part only). The image's score is the mean of those checks, in [0, 1].

import Imaging
import World

public struct WorldFeatureSpace: FeatureSpace {
    public let measure = "world"
    public let subjectFidelityName = "subject fidelity (world features)"
    public let promptFidelityName = "prompt fidelity (world measure)"

    static let blockWeights = (shape: 0.5, objectColour: 0.3, histogram: 0.2)
    /// The background colour earns full marks at this pixel fraction.
    static let backgroundFullFraction = 0.2

    public init() {}

    /// The largest region of one colour that is not the background, with its colour.
    public struct MainObject: Sendable, Equatable {
        public var colour: Colour
        public var region: RegionShape
    }

    /// The most frequent named colour.
    public static func backgroundColour(_ stats: ColourStatistics) -> Colour? {
        let best = Colour.allCases.max { stats.fraction($0) < stats.fraction($1) }!
        return stats.fraction(best) > 0 ? best : nil
    }

    /// Regions smaller than this are noise (6 pixels at 32 px, as SceneMeasure's default;
    /// proportionally more on larger images).
    static func minArea(_ image: RGBImage) -> Int { max(6, image.width * image.height / 170) }

    public static func mainObject(_ image: RGBImage, stats: ColourStatistics? = nil) -> MainObject? {
        let stats = stats ?? ColourStatistics(image)
        let background = backgroundColour(stats)
        var best: MainObject?
        for colour in Colour.allCases where colour != background && stats.fraction(colour) > 0 {
            guard let region = SceneMeasure.region(of: colour, in: image, minArea: minArea(image)),
                  !spansImage(region, image) else { continue }
            if best == nil || region.area > best!.region.area { best = MainObject(colour: colour, region: region) }
        }
        return best
    }

    /// Background bands reach across (nearly) the whole image; objects never do (the largest
    /// is 54 % of the side).
    static func spansImage(_ region: RegionShape, _ image: RGBImage) -> Bool {
        Double(region.width) >= 0.9 * Double(image.width) || Double(region.height) >= 0.9 * Double(image.height)
    }

    public func features(_ image: RGBImage) -> [Float] {
        let stats = ColourStatistics(image)
        let object = Self.mainObject(image, stats: stats)
        let shape = Shape.allCases.map { s in Float(object?.region.match(s) ?? 0) }
        let colour = Colour.allCases.map { c in Float(object?.colour == c ? 1 : 0) }
        let histogram = Colour.allCases.map { Float(stats.fraction($0)) }
        let w = Self.blockWeights
        func block(_ v: [Float], _ weight: Double) -> [Float] {
            Similarity.normalised(v).map { $0 * Float(weight.squareRoot()) }
        }
        return block(shape, w.shape) + block(colour, w.objectColour) + block(histogram, w.histogram)
    }

    public func imageFeatures(_ images: [RGBImage]) throws -> [[Float]] {
        images.map(features)
    }

    public func promptFidelity(_ images: [RGBImage], prompts: [String]) throws -> [Double?] {
        precondition(images.count == prompts.count, "one prompt per image")
        return zip(images, prompts).map { image, prompt in Self.promptFidelity(image, caption: WorldCaption(prompt)) }
    }

    /// The mean of the checks the caption asks for, nil when it asks for none.
    public static func promptFidelity(_ image: RGBImage, caption: WorldCaption) -> Double? {
        guard !caption.isEmpty else { return nil }
        let stats = ColourStatistics(image)
        let background = backgroundColour(stats)
        var checks: [Double] = []
        for object in caption.objects {
            switch (object.colour, object.shape) {
            case let (colour?, shape?):
                checks.append(SceneMeasure.subjectScore(image, shape: shape, colour: colour))
            case let (colour?, nil):
                checks.append(SceneMeasure.region(of: colour, in: image, minArea: minArea(image)) == nil ? 0 : 1)
            case let (nil, shape?):
                let matches = Colour.allCases.filter { $0 != background }.compactMap {
                    SceneMeasure.region(of: $0, in: image, minArea: minArea(image))?.match(shape)
                }
                checks.append(matches.max() ?? 0)
            case (nil, nil):
                continue
            }
        }
        if let colour = caption.backgroundColour {
            checks.append(min(1, stats.fraction(colour) / backgroundFullFraction))
        }
        return checks.isEmpty ? nil : checks.reduce(0, +) / Double(checks.count)
    }
}
