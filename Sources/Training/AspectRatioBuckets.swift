// Aspect-ratio buckets (train.buckets): instead of cropping every photo to a square, each one is
// trained at a size close to its own shape. The sizes on offer have an area of about
// resolution² (at most that), both sides multiples of the model's size step (64 for SD 1.x/2.x:
// the VAE's downsampling times the UNet's halvings), and sides between half and twice the
// resolution, so no bucket is a sliver. An image goes to the size whose aspect ratio is closest
// to its own (on a log scale, so 2:1 and 1:2 are equally far from square), and is resized to
// cover it and trimmed in the centre to the size's exact shape (a thin strip, the aspect ratios
// being close; only shapes beyond 4:1 lose more).

import Foundation

/// One training size of a bucketed run, in pixels.
public struct BucketSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)x\(height)" }
    public static func < (a: BucketSize, b: BucketSize) -> Bool { (a.width, a.height) < (b.width, b.height) }
}

public struct AspectRatioBuckets: Sendable, Equatable {
    /// The training sizes on offer, widest last.
    public let sizes: [BucketSize]

    /// The sizes for a run at `resolution` on a model whose sizes are multiples of `step`.
    public init(resolution: Int, step: Int) {
        precondition(resolution > 0 && step > 0 && resolution % step == 0, "resolution \(resolution) is not a multiple of \(step)")
        let area = resolution * resolution
        let shortest = max(step, (resolution / 2 + step - 1) / step * step)
        let longest = 2 * resolution
        var sizes: Set<BucketSize> = []
        // Landscape sizes, each with its portrait mirror: a photo and its rotated copy get
        // sizes of the same area (rounding the short side down from each long side).
        for width in stride(from: resolution, through: longest, by: step) {
            // The tallest height that keeps the area within resolution².
            let height = area / width / step * step
            guard height >= shortest else { break }
            sizes.insert(BucketSize(width: width, height: height))
            sizes.insert(BucketSize(width: height, height: width))
        }
        self.sizes = sizes.sorted()
    }

    /// The size for an image of `width` × `height` pixels: the closest aspect ratio; between
    /// two equally close, the larger area (fewer pixels thrown away), then the narrower.
    public func size(forWidth width: Int, height: Int) -> BucketSize {
        precondition(width > 0 && height > 0, "image size \(width)x\(height)")
        let aspect = log(Double(width) / Double(height))
        func distance(_ s: BucketSize) -> Double { abs(log(Double(s.width) / Double(s.height)) - aspect) }
        return sizes.min { a, b in
            let (da, db) = (distance(a), distance(b))
            if abs(da - db) > 1e-12 { return da < db }
            if a.width * a.height != b.width * b.height { return a.width * a.height > b.width * b.height }
            return a < b
        }!
    }
}
