// Where pretraining examples come from: an endless, index-addressed stream of captioned
// images (the procedural world, in the `pretrain` command), so that step s of a run always
// sees examples s·B ..< (s+1)·B and a resumed run sees what it would have seen.

public struct PretrainingExample: Sendable {
    /// [size, size, 3] channels-last, values in [-1, 1].
    public var pixels: [Float]
    public var caption: String
    public init(pixels: [Float], caption: String) { self.pixels = pixels; self.caption = caption }
}

public struct PretrainingData: Sendable {
    /// Image side in pixels.
    public let size: Int
    public let example: @Sendable (Int) -> PretrainingExample

    public init(size: Int, example: @escaping @Sendable (Int) -> PretrainingExample) {
        self.size = size; self.example = example
    }

    /// Examples `first ..< first + count` as one batch [count, size, size, 3] and their captions.
    public func batch(first: Int, count: Int) -> (images: TensorBatch, captions: [String]) {
        var values: [Float] = []
        values.reserveCapacity(count * size * size * 3)
        var captions: [String] = []
        for i in first..<(first + count) {
            let e = example(i)
            precondition(e.pixels.count == size * size * 3, "example \(i) has \(e.pixels.count) values, expected \(size)x\(size)x3")
            values += e.pixels
            captions.append(e.caption)
        }
        return (TensorBatch(values: values, shape: [count, size, size, 3]), captions)
    }
}

/// Plain values and their shape (a Tensor is made where autodiff needs one).
public struct TensorBatch: Sendable {
    public var values: [Float]
    public var shape: [Int]
}
