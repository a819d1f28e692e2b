// Draws a scene into an RGB image, anti-aliased by supersampling: each pixel is the mean of
// `supersampling`² point samples on a regular sub-grid. Shapes are exact point tests in
// [0, 1] image coordinates, so any resolution renders the same scene.

import Foundation
import Imaging

public struct SceneRenderer: Sendable {
    public var size: Int
    public var supersampling: Int

    public init(size: Int, supersampling: Int = 4) {
        precondition(size > 0 && supersampling > 0, "renderer \(size) px, supersampling \(supersampling)")
        self.size = size; self.supersampling = supersampling
    }

    public func render(_ scene: Scene) -> RGBImage {
        let s = supersampling
        let inv = 1.0 / Double(size * s)
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for py in 0..<size {
            for px in 0..<size {
                var sum = RGB(0, 0, 0)
                for sy in 0..<s {
                    for sx in 0..<s {
                        let x = (Double(px * s + sx) + 0.5) * inv, y = (Double(py * s + sy) + 0.5) * inv
                        let c = colour(of: scene, atX: x, y: y)
                        sum.r += c.r; sum.g += c.g; sum.b += c.b
                    }
                }
                let n = Double(s * s), i = (py * size + px) * 3
                pixels[i] = UInt8((sum.r / n).rounded()); pixels[i + 1] = UInt8((sum.g / n).rounded()); pixels[i + 2] = UInt8((sum.b / n).rounded())
            }
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    /// The colour at a point: the topmost object covering it, else the background.
    func colour(of scene: Scene, atX x: Double, y: Double) -> RGB {
        for object in scene.objects.reversed() where covers(object, x: x, y: y) { return object.colour.rgb }
        return backgroundColour(scene.background, x: x, y: y)
    }

    func backgroundColour(_ b: Background, x: Double, y: Double) -> RGB {
        let base = b.colour.rgb
        // Tints toward white, except for white itself, whose companion is a grey.
        let companion = b.colour == .white ? base.mixed(with: .black, 0.3) : base.mixed(with: .white, 0.55)
        switch b.pattern {
        case .plain: return base
        case .striped: return Int(y * 8) % 2 == 0 ? base : companion          // 8 horizontal bands
        case .checkered: return (Int(x * 4) + Int(y * 4)) % 2 == 0 ? base : companion   // 4 × 4 cells
        case .gradient: return base.mixed(with: b.colour == .black ? .white : .black, 0.6 * y)  // darker downwards
        }
    }
}

/// Whether `object` covers the point (x, y) (image coordinates in [0, 1]).
public func covers(_ object: SceneObject, x: Double, y: Double) -> Bool {
    let r = object.size.radius
    let dx = (x - object.x) / r, dy = (y - object.y) / r    // in units of the radius
    switch object.shape {
    case .circle:
        return dx * dx + dy * dy <= 1
    case .square:
        return abs(dx) <= 0.85 && abs(dy) <= 0.85
    case .triangle:
        // Apex up at dy = −1, base at dy = 0.8; the half-width grows from 0 to 1.
        guard dy >= -1, dy <= 0.8 else { return false }
        return abs(dx) <= (dy + 1) / 1.8
    case .star:
        return insideStar(dx, dy)
    }
}

/// A five-pointed star, one point up, outer radius 1, inner radius 0.45.
private let starPolygon: [(Double, Double)] = (0..<10).map { k in
    let angle = -Double.pi / 2 + Double(k) * Double.pi / 5
    let radius = k % 2 == 0 ? 1.0 : 0.45
    return (radius * cos(angle), radius * sin(angle))
}

private func insideStar(_ x: Double, _ y: Double) -> Bool {
    // Even-odd rule over the polygon's edges.
    var inside = false
    var j = starPolygon.count - 1
    for i in 0..<starPolygon.count {
        let (xi, yi) = starPolygon[i], (xj, yj) = starPolygon[j]
        if (yi > y) != (yj > y), x < (xj - xi) * (y - yi) / (yj - yi) + xi { inside.toggle() }
        j = i
    }
    return inside
}
