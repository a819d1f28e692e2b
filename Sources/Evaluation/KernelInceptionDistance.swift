// Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the squared
// maximum mean discrepancy between two sets of features under the cubic polynomial kernel
//
//     k(x, y) = (x · y / d + 1)³          d = feature length
//
// estimated without bias: within-set sums leave out the i = j terms,
//
//     MMD² = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (n(n−1)) − 2 Σ_{i,j} k(x_i, y_j) / (mn).
//
// Unbiased means it can come out slightly below zero when the sets are alike. The papers
// compute it on Inception features and average over random subsets; with the few images of a
// personalisation run (tens) the whole sets are used once.

public enum KernelInceptionDistance {
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The cubic polynomial kernel for `d`-long features.
    public static func kernel(_ x: [Float], _ y: [Float], dimension d: Int) -> Double {
        let t = Similarity.dot(x, y) / Double(d) + 1
        return t * t * t
    }

    /// KID between `xs` and `ys` (each at least two vectors, all of one length).
    public static func compute(_ xs: [[Float]], _ ys: [[Float]]) throws -> Double {
        guard xs.count >= 2, ys.count >= 2 else {
            throw Error(description: "KID needs at least two images in each set (got \(xs.count) and \(ys.count))")
        }
        let d = xs[0].count
        guard d > 0, (xs + ys).allSatisfy({ $0.count == d }) else {
            throw Error(description: "KID needs feature vectors of one non-zero length")
        }
        func withinMean(_ s: [[Float]]) -> Double {
            var sum = 0.0
            for i in s.indices { for j in s.indices where j != i { sum += kernel(s[i], s[j], dimension: d) } }
            return sum / Double(s.count * (s.count - 1))
        }
        var cross = 0.0
        for x in xs { for y in ys { cross += kernel(x, y, dimension: d) } }
        return withinMean(xs) + withinMean(ys) - 2 * cross / Double(xs.count * ys.count)
    }
}
