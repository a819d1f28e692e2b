import Foundation
import Testing
import ModelIO

/// Tests/Fixtures: the reference files the scripts in scripts/fixtures/ write with PyTorch and
/// the repository commits, found from this source file so tests run from any working directory.
public enum TestFixtures {
    /// The repository's root folder (assets/, samples/, Tests/).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let root = repositoryRoot.appendingPathComponent("Tests/Fixtures")

    /// A file or folder under Tests/Fixtures.
    public static func url(_ relativePath: String) -> URL { root.appendingPathComponent(relativePath) }
    public static func path(_ relativePath: String) -> String { url(relativePath).path }

    public static func safetensors(_ relativePath: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: path(relativePath))
    }

    /// A JSON object file under Tests/Fixtures.
    public static func json(_ relativePath: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let data = try Data(contentsOf: url(relativePath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], sourceLocation: sourceLocation)
    }
}
