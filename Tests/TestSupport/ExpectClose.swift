import Testing

/// Elementwise |a − b| ≤ atol + rtol·|b|, reporting the worst element (a NaN is always worst).
/// The defaults suit single ops in float32; model-level tests pass their stated tolerance.
public func expectClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                        _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    var worst = -1, worstExcess: Float = 0
    for i in 0..<actual.count {
        let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
        if excess > worstExcess || actual[i].isNaN { worst = i; worstExcess = excess.isNaN ? .infinity : excess }
    }
    #expect(worst < 0, "\(what): element \(worst) is \(worst >= 0 ? actual[worst] : 0), expected \(worst >= 0 ? expected[worst] : 0) (rtol \(rtol), atol \(atol))",
            sourceLocation: sourceLocation)
}
