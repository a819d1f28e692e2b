/// Why an adapter file could not be read or written. Every case names the file and, where there
/// is one, the first key that did not fit and what was expected instead.
public enum AdapterError: Error, CustomStringConvertible, Equatable {
    /// A key that is not part of the convention the file was read as; nothing is silently dropped.
    case unrecognisedKey(path: String, key: String, expected: String)
    /// A known key with the wrong shape, dtype or partner (a down without its up, mismatched ranks).
    case inconsistent(path: String, key: String, reason: String)
    /// A convention dropbooth recognises but does not handle yet (SDXL, LDM-named kohya, LyCORIS).
    case unsupported(path: String, what: String)
    /// The file holds no adapter at all.
    case empty(path: String, expected: String)
    /// An adapter that cannot be written in the chosen convention.
    case cannotWrite(reason: String)

    public var description: String {
        switch self {
        case .unrecognisedKey(let path, let key, let expected):
            return "\(path): unrecognised tensor '\(key)'; expected \(expected)"
        case .inconsistent(let path, let key, let reason):
            return "\(path): tensor '\(key)': \(reason)"
        case .unsupported(let path, let what):
            return "\(path): \(what)"
        case .empty(let path, let expected):
            return "\(path): holds no adapter tensors; expected \(expected)"
        case .cannotWrite(let reason):
            return "cannot write adapter: \(reason)"
        }
    }
}
