/// Why a run cannot be evaluated, in words for the report and the `eval` command: which file or
/// field, what was expected.
public struct EvaluationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
