import Imaging
import Testing
@testable import World

@Suite struct SceneTests {
    @Test func samplerIsDeterministicByIndex() {
        let a = SceneSampler.pretraining(seed: 7), b = SceneSampler.pretraining(seed: 7)
        for i in [0, 1, 17, 1000] { #expect(a.scene(i) == b.scene(i)) }
        #expect(a.scene(3) != a.scene(4))
        #expect(SceneSampler.pretraining(seed: 8).scene(3) != a.scene(3))
    }

    @Test func renderingIsDeterministic() {
        let scene = SceneSampler.pretraining(seed: 1).scene(5)
        let r = SceneRenderer(size: 32)
        #expect(r.render(scene) == r.render(scene))
    }

    @Test func pretrainingNeverDrawsAHeldOutShape() {
        let sampler = SceneSampler.pretraining(seed: 42)
        var shapes = Set<Shape>()
        for i in 0..<3000 {
            let s = sampler.scene(i)
            #expect(!s.containsHeldOutSubject, "scene \(i): \(s.caption)")
            for o in s.objects { shapes.insert(o.shape) }
        }
        #expect(shapes == Set(Shape.pretraining))
        #expect(!Shape.heldOut.isEmpty)
    }

    @Test func captionsNameObjectsLeftToRightThenTheBackground() {
        let scene = Scene(background: Background(pattern: .striped, colour: .green), objects: [
            SceneObject(shape: .square, colour: .blue, size: .small, x: 0.8, y: 0.5),
            SceneObject(shape: .circle, colour: .red, size: .large, x: 0.3, y: 0.5),
        ])
        #expect(scene.caption == "a large red circle and a small blue square on a striped green background")
        var three = scene
        three.objects.append(SceneObject(shape: .triangle, colour: .yellow, size: .medium, x: 0.9, y: 0.2))
        #expect(three.caption == "a large red circle, a small blue square and a medium yellow triangle on a striped green background")
    }

    @Test func sampledObjectsDoNotOverlapAndStayInside() {
        let sampler = SceneSampler.pretraining(seed: 3)
        for i in 0..<500 {
            let objects = sampler.scene(i).objects
            #expect(!objects.isEmpty && objects.count <= 3)
            for (a, o) in objects.enumerated() {
                #expect(o.x - o.size.radius >= 0 && o.x + o.size.radius <= 1)
                for p in objects[(a + 1)...] {
                    let d = ((o.x - p.x) * (o.x - p.x) + (o.y - p.y) * (o.y - p.y)).squareRoot()
                    #expect(d >= o.size.radius + p.size.radius)
                }
            }
        }
    }

    @Test func objectColoursDifferFromTheBackground() {
        let sampler = SceneSampler.pretraining(seed: 9)
        for i in 0..<500 {
            let s = sampler.scene(i)
            for o in s.objects { #expect(o.colour != s.background.colour) }
        }
    }

    @Test func subjectScenesShowTheSubjectAlone() {
        for i in 0..<20 {
            let s = SceneSampler.subject(.star, colour: .yellow, seed: 5, index: i)
            #expect(s.objects.count == 1 && s.objects[0].shape == .star && s.objects[0].colour == .yellow)
            #expect(s.background.colour != .yellow)
            #expect(s.caption.hasPrefix("a ") && s.caption.contains("yellow star on a"))
        }
    }
}

@Suite struct MeasureTests {
    /// What is drawn is what the caption says: every object's colour is found in the image and
    /// the region of that colour has the object's shape (single-object scenes, 32 px).
    @Test func measureRecognisesEachShapeAndColourAt32px() {
        let r = SceneRenderer(size: 32)
        for shape in Shape.allCases {
            for colour in [Colour.red, .blue, .yellow, .white] {
                for (i, size) in [Size.medium, .large].enumerated() {
                    let scene = Scene(background: Background(pattern: i == 0 ? .plain : .striped, colour: colour == .white ? .purple : .black),
                                      objects: [SceneObject(shape: shape, colour: colour, size: size, x: 0.45, y: 0.5)])
                    let image = r.render(scene)
                    #expect(ColourStatistics(image).fraction(colour) > 0.03, "\(scene.caption)")
                    #expect(SceneMeasure.shape(of: colour, in: image) == shape, "\(scene.caption): \(String(describing: SceneMeasure.region(of: colour, in: image)))")
                }
            }
        }
    }

    @Test func colourStatisticsFollowTheScene() {
        let scene = Scene(background: Background(pattern: .plain, colour: .blue),
                          objects: [SceneObject(shape: .square, colour: .red, size: .large)])
        let stats = ColourStatistics(SceneRenderer(size: 32).render(scene))
        #expect(stats.fraction(.blue) > stats.fraction(.red))
        #expect(stats.fraction(.red) > 0.15)
        #expect(stats.fraction(.green) == 0)
    }

    @Test func subjectScoreIsHigherForTheSubjectThanForAnotherShape() {
        let r = SceneRenderer(size: 32)
        func image(_ s: Shape) -> RGBImage {
            r.render(Scene(background: Background(pattern: .gradient, colour: .green),
                           objects: [SceneObject(shape: s, colour: .yellow, size: .large)]))
        }
        let star = SceneMeasure.subjectScore(image(.star), shape: .star, colour: .yellow)
        for other in Shape.pretraining {
            #expect(star > SceneMeasure.subjectScore(image(other), shape: .star, colour: .yellow))
        }
        #expect(SceneMeasure.subjectScore(image(.star), shape: .star, colour: .red) == 0)
    }
}

@Suite struct CaptionMatchesImageTests {
    /// In sampled pretraining scenes, every captioned object's colour is in the image, and the
    /// region of that colour has the captioned shape (for objects whose colour no other object
    /// shares, at 64 px where even small objects are large enough to measure).
    @Test func sampledScenesShowWhatTheirCaptionsSay() {
        let sampler = SceneSampler.pretraining(seed: 11)
        let renderer = SceneRenderer(size: 64)
        var checked = 0, recognised = 0
        for i in 0..<60 {
            let scene = sampler.scene(i)
            let image = renderer.render(scene)
            let stats = ColourStatistics(image)
            for o in scene.objects {
                #expect(stats.fraction(o.colour) > 0, "\(scene.caption): no \(o.colour) pixels")
                guard scene.objects.filter({ $0.colour == o.colour }).count == 1, scene.background.pattern != .gradient else { continue }
                checked += 1
                if SceneMeasure.shape(of: o.colour, in: image) == o.shape { recognised += 1 }
            }
        }
        // Measured: every one; a margin for shapes touched by a background band of a near colour.
        #expect(checked > 40)
        #expect(Double(recognised) >= 0.9 * Double(checked), "\(recognised) of \(checked) recognised")
    }
}
