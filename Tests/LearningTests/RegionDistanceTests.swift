// The measure itself, on the world's own renderings of the sampling prompts: a model that drew
// exactly the subject would score near 0, one that drew another shape of the subject's colour
// far from it. What the learning tests' distances mean, and that the measure can tell.

import Testing
import World

extension LearningTests {
    static func renderedDistance(of shape: Shape) -> Double {
        let renderer = SceneRenderer(size: Learning.resolution)
        let scenes = (0..<Learning.sampleCount).map { i -> Scene in
            var scene = SceneSampler.subject(Learning.subjectShape, colour: Learning.subjectColour, seed: Learning.promptSeed, index: i)
            scene.objects = scene.objects.map { var o = $0; o.shape = shape; return o }
            return scene
        }
        return RegionDistance.mean(scenes.map { renderer.render($0) }, colour: Learning.subjectColour, to: RegionDistance.subject())
    }

    @Test func measureTellsRenderedStarsFromOtherShapes() {
        let star = Self.renderedDistance(of: .star)
        let others = Shape.allCases.filter { $0 != .star }.map { ($0, Self.renderedDistance(of: $0)) }
        Learning.report("rendered prompts", [("star", star)] + others.map { ($0.0.word, $0.1) })
        #expect(star < 0.75, "rendered stars are \(star) from the photos' numbers")
        for (shape, d) in others { #expect(d > max(1.5, 3 * star), "rendered \(shape.word)s are \(d) from the photos' numbers, stars \(star)") }
    }
}
