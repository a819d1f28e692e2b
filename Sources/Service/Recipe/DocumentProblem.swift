import YAML

/// One thing wrong with a recipe or config file, with everything a person needs to fix it:
/// where (file, line, column), which field, what was expected, and a suggestion.
public struct DocumentProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// Dotted path of the field, e.g. `train.steps` or `subjects[1].token`; empty for the document.
    public var field: String
    public var message: String
    public var suggestion: String?

    public init(file: String, line: Int, column: Int, field: String, message: String, suggestion: String? = nil) {
        self.file = file; self.line = line; self.column = column
        self.field = field; self.message = message; self.suggestion = suggestion
    }

    /// `file:line:column: field: message (suggestion)`, the shape compilers use, so editors link it.
    public var description: String {
        var text = "\(file):\(line):\(column): "
        if !field.isEmpty { text += "\(field): " }
        text += message
        if let suggestion { text += " (\(suggestion))" }
        return text
    }
}

/// Every problem found in a document: validation does not stop at the first one.
public struct DocumentProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [DocumentProblem]
    public init(_ problems: [DocumentProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

public typealias RecipeProblem = DocumentProblem
public typealias RecipeProblems = DocumentProblems
public typealias ConfigProblem = DocumentProblem
public typealias ConfigProblems = DocumentProblems

extension DocumentProblems {
    /// A document that could not be read or parsed at all: one problem at libyaml's mark.
    init(file: String, _ error: YAMLError) {
        let suggestion: String? = switch error.kind {
        case .syntax: "check indentation and quoting around this place"
        case .tooLarge, .tooDeep, .tooManyNodes: "this service accepts small, simple documents"
        case .duplicateKey: "keep one of the two"
        case .unknownAnchor: "define the anchor (&name) before using *name"
        default: nil
        }
        self.init([DocumentProblem(file: file, line: error.mark.line, column: error.mark.column, field: "",
                                   message: error.message, suggestion: suggestion)])
    }
}

extension [DocumentProblem] {
    /// In document order, as an editor would list them (stable for problems at the same place).
    func sortedByPosition() -> [DocumentProblem] {
        enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}
