import Foundation
import Testing
import ModelIO

/// Reference fixtures of the Diffusion target, written by scripts/fixtures/diffusion_text.py
/// (tokenizer, schedulers) under Tests/Fixtures/diffusion. Everything is namespaced here so
/// other fixture helpers in this test target cannot collide with it.
enum DiffusionFixture {
    /// The repository root, found from this source file so tests run from any working directory.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let root = repositoryRoot.appendingPathComponent("Tests/Fixtures/diffusion")
    /// CLIP's vocabulary, committed under assets/clip.
    static let clipVocabulary = repositoryRoot.appendingPathComponent("assets/clip")

    static func url(_ relativePath: String) -> URL { root.appendingPathComponent(relativePath) }

    static func json(_ relativePath: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(relativePath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func safetensors(_ relativePath: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: url(relativePath).path)
    }

    /// Elementwise |a - b| <= atol + rtol * |b|; reports the worst element.
    static func expectClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                            _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
                sourceLocation: sourceLocation)
        guard actual.count == expected.count else { return }
        var worst = -1, worstExcess: Float = 0
        for i in 0..<actual.count {
            let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
            if excess > worstExcess || actual[i].isNaN { worst = i; worstExcess = excess.isNaN ? .infinity : excess }
        }
        #expect(worst < 0, "\(what): element \(worst) is \(worst >= 0 ? actual[worst] : 0), expected \(worst >= 0 ? expected[worst] : 0) (rtol \(rtol), atol \(atol))",
                sourceLocation: sourceLocation)
    }
}
