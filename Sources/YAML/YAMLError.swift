/// Why a document could not be read, with the place it happened.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// libyaml's own diagnosis (problem and context texts).
        case syntax
        case tooLarge
        case tooDeep
        case tooManyNodes
        case duplicateKey
        case unknownAnchor
        case unsupportedKey
        case unsupportedTag
        case multipleDocuments
        case unreadable
    }

    public var kind: Kind
    public var message: String
    public var mark: YAMLMark

    public init(_ kind: Kind, _ message: String, at mark: YAMLMark) {
        self.kind = kind; self.message = message; self.mark = mark
    }

    public var description: String { "\(mark): \(message)" }
}
