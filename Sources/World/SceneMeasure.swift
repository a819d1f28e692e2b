// A measure on images of the world, for the learning tests and the evaluation: which named
// colours an image holds, and what shape the pixels of one colour form.
//
// Colour statistics: each pixel goes to the nearest named colour (or to none when it is far
// from all of them: backgrounds' tints and shades, blurry edges).
// Shape: the pixels of one colour, their largest 4-connected region, and two numbers of it,
// the fraction of its bounding box it fills and how low its centre of mass sits in the box.
// A shape is classified as the one whose template (the shape rendered alone, measured the
// same way) is nearest in those two numbers: circle ≈ (0.79, 0.50), square ≈ (1.0, 0.50),
// triangle ≈ (0.50, 0.63), star ≈ (0.42, 0.54).

import Imaging

public struct ColourStatistics: Sendable, Equatable {
    /// Fraction of the image's pixels nearest to each colour (within `maxDistance`).
    public var fractions: [Colour: Double]

    /// Pixels farther than this (sRGB byte distance) from every named colour count for none.
    public static let maxDistance = 60.0

    public init(_ image: RGBImage) {
        var counts: [Colour: Int] = [:]
        for i in 0..<(image.width * image.height) {
            if let c = nearestColour(image, i) { counts[c, default: 0] += 1 }
        }
        let n = Double(image.width * image.height)
        fractions = Dictionary(uniqueKeysWithValues: Colour.allCases.map { ($0, Double(counts[$0] ?? 0) / n) })
    }

    public func fraction(_ c: Colour) -> Double { fractions[c] ?? 0 }
}

/// The named colour nearest to pixel `i`, nil when none is within `ColourStatistics.maxDistance`.
func nearestColour(_ image: RGBImage, _ i: Int) -> Colour? {
    let p = RGB(Double(image.pixels[i * 3]), Double(image.pixels[i * 3 + 1]), Double(image.pixels[i * 3 + 2]))
    var best: (Colour, Double)?
    for c in Colour.allCases {
        let d = p.distanceSquared(to: c.rgb)
        if best == nil || d < best!.1 { best = (c, d) }
    }
    guard let (c, d) = best, d <= ColourStatistics.maxDistance * ColourStatistics.maxDistance else { return nil }
    return c
}

/// The two numbers a region of one colour is classified by.
public struct RegionShape: Sendable, Equatable {
    /// Pixels in the region.
    public var area: Int
    /// area / bounding-box area.
    public var fill: Double
    /// Centre of mass's height in the box, 0 top … 1 bottom.
    public var centroidY: Double
    /// The bounding box's size in pixels.
    public var width = 0
    public var height = 0

    /// The nearest shape template.
    public var nearestShape: Shape { nearestShapes.first! }

    /// Shapes ordered by distance to this region's numbers, nearest first.
    public var nearestShapes: [Shape] {
        Shape.allCases.sorted { distance(to: ShapeTemplates.features[$0]!) < distance(to: ShapeTemplates.features[$1]!) }
    }

    /// How close the region is to `shape`'s template, in (0, 1]: 1 / (1 + 10 · distance).
    public func match(_ shape: Shape) -> Double {
        1 / (1 + 10 * distance(to: ShapeTemplates.features[shape]!))
    }

    /// Distance to another region's numbers (the vertical position weighs double: it is what
    /// tells a triangle from a star).
    public func distance(to o: RegionShape) -> Double {
        let (a, b) = (fill - o.fill, 2 * (centroidY - o.centroidY))
        return (a * a + b * b).squareRoot()
    }
}

public enum SceneMeasure {
    /// The largest region of `colour` in the image (nil when it has fewer than `minArea` pixels).
    public static func region(of colour: Colour, in image: RGBImage, minArea: Int = 6) -> RegionShape? {
        let (w, h) = (image.width, image.height)
        var mask = [Bool](repeating: false, count: w * h)
        for i in 0..<(w * h) where nearestColour(image, i) == colour { mask[i] = true }
        var seen = [Bool](repeating: false, count: w * h)
        var best: [Int] = []
        for start in 0..<(w * h) where mask[start] && !seen[start] {
            var stack = [start], region: [Int] = []
            seen[start] = true
            while let i = stack.popLast() {
                region.append(i)
                let (x, y) = (i % w, i / w)
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                    let j = ny * w + nx
                    if mask[j] && !seen[j] { seen[j] = true; stack.append(j) }
                }
            }
            if region.count > best.count { best = region }
        }
        guard best.count >= minArea else { return nil }
        let xs = best.map { $0 % w }, ys = best.map { $0 / w }
        let (x0, x1, y0, y1) = (xs.min()!, xs.max()!, ys.min()!, ys.max()!)
        let boxArea = Double((x1 - x0 + 1) * (y1 - y0 + 1))
        let meanY = Double(ys.reduce(0, +)) / Double(ys.count)
        let centroid = y1 > y0 ? (meanY - Double(y0)) / Double(y1 - y0) : 0.5
        return RegionShape(area: best.count, fill: Double(best.count) / boxArea, centroidY: centroid,
                           width: x1 - x0 + 1, height: y1 - y0 + 1)
    }

    /// The shape the pixels of `colour` form, nil when there are too few of them.
    public static func shape(of colour: Colour, in image: RGBImage) -> Shape? {
        region(of: colour, in: image)?.nearestShape
    }

    /// How well an image shows `object`'s shape in its colour, in [0, 1]: 0 when the colour is
    /// absent, else 1 / (1 + 10 · distance to the shape's template). Samples of a model
    /// that learnt the subject score higher than samples of one that did not.
    public static func subjectScore(_ image: RGBImage, shape: Shape, colour: Colour) -> Double {
        region(of: colour, in: image)?.match(shape) ?? 0
    }
}

/// Each shape's numbers, measured on the shape rendered large and alone at 64 px on black
/// (white object), once.
enum ShapeTemplates {
    static let features: [Shape: RegionShape] = {
        let renderer = SceneRenderer(size: 64)
        var out: [Shape: RegionShape] = [:]
        for s in Shape.allCases {
            let scene = Scene(background: Background(pattern: .plain, colour: .black),
                              objects: [SceneObject(shape: s, colour: .white, size: .large)])
            out[s] = SceneMeasure.region(of: .white, in: renderer.render(scene))!
        }
        return out
    }()
}
