/// Why a tokenizer could not be loaded: the file, and what was expected of it.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case invalidFile(String, String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): file not found; a CLIP tokenizer needs vocab.json and merges.txt (as in a checkpoint's tokenizer/ folder)"
        case .invalidFile(let path, let problem):
            return "\(path): \(problem)"
        }
    }
}
