// The measure itself, on the world's own renderings of the sampling prompts: a model that drew
// exactly the subject would score near 0, one that drew another shape of the subject's colour
// far from it. What the learning tests' distances mean, and that the measure can tell, for
// each subject the tests teach (the star; textual inversion's triangle).

import Testing
import World

extension LearningTests {
    /// The mean distance to `subject` of the world's renderings of its sampling prompts with
    /// the object drawn as `shape`.
    static func renderedDistance(of shape: Shape, to subject: Learning.Subject) -> Double {
        let renderer = SceneRenderer(size: Learning.resolution)
        let scenes = (0..<Learning.sampleCount).map { i -> Scene in
            var scene = SceneSampler.subject(subject.shape, colour: subject.colour, seed: Learning.promptSeed, index: i)
            scene.objects = scene.objects.map { var o = $0; o.shape = shape; return o }
            return scene
        }
        return RegionDistance.mean(scenes.map { renderer.render($0) }, colour: subject.colour, to: RegionDistance.subject(subject))
    }

    @Test(arguments: [Learning.Subject.star, .triangle])
    func measureTellsTheRenderedSubjectFromOtherShapes(_ subject: Learning.Subject) {
        let own = Self.renderedDistance(of: subject.shape, to: subject)
        let others = Shape.allCases.filter { $0 != subject.shape }.map { ($0, Self.renderedDistance(of: $0, to: subject)) }
        Learning.report("rendered prompts, \(subject.shape.word) photos", [(subject.shape.word, own)] + others.map { ($0.0.word, $0.1) })
        #expect(own < 0.75, "rendered \(subject.shape.word)s are \(own) from the photos' numbers")
        for (shape, d) in others {
            #expect(d > max(1.5, 3 * own), "rendered \(shape.word)s are \(d) from the \(subject.shape.word) photos' numbers, \(subject.shape.word)s \(own)")
        }
    }
}
