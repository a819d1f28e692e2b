// What can be wrong with a CLIP model folder's weights. Config and tokenizer problems are
// reported by CheckpointError and TokenizerError, which already name the file and key.

public enum CLIPScoringError: Error, Equatable, CustomStringConvertible {
    /// A tensor the config's architecture needs is not in the weights.
    case missingTensor(path: String, name: String, expectedShape: [Int])
    /// A tensor whose shape the config does not predict.
    case wrongShape(path: String, name: String, expectedShape: [Int], actualShape: [Int])
    /// Tensors no part of a CLIPModel reads: another architecture, or a config that does not
    /// match the weights (more layers stored than configured).
    case unknownTensors(path: String, names: [String])

    public var description: String {
        switch self {
        case .missingTensor(let path, let name, let shape):
            return "\(path): tensor \(name) is missing (expected shape \(shape)); a transformers CLIPModel stores it"
        case .wrongShape(let path, let name, let expected, let actual):
            return "\(path): tensor \(name) has shape \(actual); config.json describes \(expected)"
        case .unknownTensors(let path, let names):
            let shown = names.prefix(8).joined(separator: ", ")
            return "\(path): \(names.count) tensor\(names.count == 1 ? "" : "s") that a CLIPModel with this config.json does not have: "
                + shown + (names.count > 8 ? ", …" : "")
        }
    }
}
