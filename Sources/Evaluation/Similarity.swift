// Vector helpers for feature spaces: dot products in Double (features are Float, sums over
// many pairs are not), L2 normalisation, and the mean cosine similarity between two sets.

public enum Similarity {
    public static func dot(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "feature vectors of different lengths (\(a.count), \(b.count))")
        var s = 0.0
        for i in a.indices { s += Double(a[i]) * Double(b[i]) }
        return s
    }

    /// `v / |v|`; all zeros stay all zeros (nothing measured is similar to nothing).
    public static func normalised(_ v: [Float]) -> [Float] {
        let norm = dot(v, v).squareRoot()
        return norm > 0 ? v.map { Float(Double($0) / norm) } : v
    }

    /// Mean over every pair (a in `xs`, b in `ys`) of a · b: for normalised features, the mean
    /// cosine similarity (CLIP-I's definition, with generated images as `xs` and real ones as `ys`).
    public static func meanCosine(_ xs: [[Float]], _ ys: [[Float]]) -> Double? {
        guard !xs.isEmpty, !ys.isEmpty else { return nil }
        var sum = 0.0
        for x in xs { for y in ys { sum += dot(x, y) } }
        return sum / Double(xs.count * ys.count)
    }
}
