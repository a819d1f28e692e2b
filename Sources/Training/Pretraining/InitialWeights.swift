// Fresh parameters for a model that has never been trained: a WeightSource that makes each
// tensor a model asks for, with PyTorch's default initialisation for its kind:
//
//   *.bias                                   zeros
//   norm weights (rank 1)                    ones
//   token / position embeddings              normal(0, 0.02), as transformers' CLIP
//   linear [out, in], conv [out, in, kh, kw] kaiming-uniform with a = √5, i.e.
//                                            uniform(±1/√fan_in), fan_in = in · kh · kw
//
// Each tensor's values depend only on (seed, name), not on the order models ask for them.

import Diffusion
import TensorEngine

public final class InitialWeights: WeightSource, @unchecked Sendable {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// Holds nothing: every tensor is made on request, so none can be left unused.
    public var tensorNames: [String] { [] }
    public func contains(_ name: String) -> Bool { false }
    public func tensor(named name: String) throws -> Tensor? { nil }

    public func tensor(named name: String, expectedShape shape: [Int]) throws -> Tensor? {
        var rng = PhiloxRandom(seed: seed ^ fnv1a(name))
        if name.hasSuffix(".bias") { return Tensor(zeros: shape) }
        if shape.count == 1 { return Tensor(repeating: 1, shape: shape) }
        if name.contains("embedding") { return rng.normal(shape: shape, std: 0.02) }
        let fanIn = shape.dropFirst().reduce(1, *)
        let bound = 1 / Float(fanIn).squareRoot()
        return rng.uniform(shape: shape, low: -bound, high: bound)
    }
}

/// FNV-1a, 64 bits: a stable hash of a parameter name (Swift's Hasher is seeded per process).
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}
