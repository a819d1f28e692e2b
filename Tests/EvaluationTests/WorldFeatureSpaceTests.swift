import Imaging
import Testing
@testable import Evaluation
@testable import World

@Suite struct WorldFeatureSpaceTests {
    static let renderer = SceneRenderer(size: 32)

    /// Photos of one subject as the demo makes them (random backgrounds, sizes, places).
    static func renders(_ shape: Shape, _ colour: Colour, seed: UInt64, count: Int) -> [RGBImage] {
        (0..<count).map { renderer.render(SceneSampler.subject(shape, colour: colour, seed: seed, index: $0)) }
    }

    @Test func aStarIsCloserToOtherStarsThanToCircles() throws {
        let space = WorldFeatureSpace()
        let stars = try space.imageFeatures(Self.renders(.star, .yellow, seed: 1, count: 8))
        let otherStars = try space.imageFeatures(Self.renders(.star, .yellow, seed: 2, count: 8))
        // The same backgrounds as otherStars (same seed), only the shape differs.
        let circles = try space.imageFeatures(Self.renders(.circle, .yellow, seed: 2, count: 8))
        let toStars = Similarity.meanCosine(stars, otherStars)!, toCircles = Similarity.meanCosine(stars, circles)!
        #expect(toStars > toCircles + 0.15, "star–star \(toStars), star–circle \(toCircles)")
        // And for each image on its own: its nearest neighbour among 16 is a star.
        for s in stars {
            let best = (otherStars.map { ($0, true) } + circles.map { ($0, false) }).max { Similarity.dot(s, $0.0) < Similarity.dot(s, $1.0) }!
            #expect(best.1)
        }
        // KID sees the same: the circles are the farther set.
        #expect(try KernelInceptionDistance.compute(stars, otherStars) < KernelInceptionDistance.compute(stars, circles))
    }

    @Test func featuresAreUnitLengthAndFindTheObject() throws {
        let scene = Scene(background: Background(pattern: .striped, colour: .green),
                          objects: [SceneObject(shape: .square, colour: .red, size: .large, x: 0.5, y: 0.5)])
        let image = Self.renderer.render(scene)
        let object = WorldFeatureSpace.mainObject(image)
        #expect(object?.colour == .red)
        #expect(object?.region.nearestShape == .square)
        let f = WorldFeatureSpace().features(image)
        #expect(abs(Similarity.dot(f, f) - 1) < 1e-5)
    }

    @Test func captionsAreReadWithTheWorldsWords() {
        let c = WorldCaption("a large yellow sks star and a small blue circle on a striped red background")
        #expect(c.objects == [.init(size: .large, colour: .yellow, shape: .star), .init(size: .small, colour: .blue, shape: .circle)])
        #expect(c.backgroundColour == .red && c.backgroundPattern == .striped)
        #expect(WorldCaption("a photo of a yellow sks").objects == [.init(size: nil, colour: .yellow, shape: nil)])
        #expect(WorldCaption("a photo of sks dog").isEmpty)
    }

    @Test func promptFidelityIsHigherForTheImageThePromptDescribes() throws {
        let scene = Scene(background: Background(pattern: .plain, colour: .purple),
                          objects: [SceneObject(shape: .star, colour: .yellow, size: .large, x: 0.5, y: 0.5)])
        let image = Self.renderer.render(scene)
        let space = WorldFeatureSpace()
        let scores = try space.promptFidelity([image, image, image, image],
                                              prompts: [scene.caption, "a large yellow circle on a plain purple background",
                                                        "a large red star on a plain green background", "a photo of sks dog"])
        // Two checks each: the background (purple: right in both) and the object. A 32 px star
        // is blurred off the 64 px template (match about 0.5), a circle is much farther from it.
        #expect(scores[0]! > 0.7, "\(scores)")
        #expect(scores[0]! > scores[1]! + 0.1, "\(scores)")
        #expect(scores[2]! == 0, "\(scores)")   // no red, no green
        #expect(scores[3] == nil)
    }
}
