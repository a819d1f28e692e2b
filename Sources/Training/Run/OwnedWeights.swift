// A full fine-tune updates the weights in place, but a checkpoint hands out float32 tensors
// memory-mapped from the file (read-only). This source copies what is not already owned.

import Diffusion
import TensorEngine

final class OwnedWeights: WeightSource {
    let source: WeightSource
    init(_ source: WeightSource) { self.source = source }

    var tensorNames: [String] { source.tensorNames }
    func contains(_ name: String) -> Bool { source.contains(name) }
    func tensor(named name: String) throws -> Tensor? {
        guard let t = try source.tensor(named: name) else { return nil }
        return t.storage.isWritable ? t : t.copy()
    }
}
