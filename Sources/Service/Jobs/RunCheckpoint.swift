import Foundation

/// How far a run got, kept in `<state>/checkpoints/<job>/<run>.json`: which phases finished,
/// and for the phase in progress whatever it needs to continue (its step, the name of its last
/// checkpoint file). Written atomically after each phase and whenever a phase saves.
public struct RunCheckpoint: Codable, Sendable, Equatable {
    public var completedPhases: [String] = []
    public var currentPhase: String?
    public var step: Int = 0
    public var started: Date?
    /// Free-form values a phase keeps across restarts.
    public var values: [String: String] = [:]

    public init() {}

    public static func path(stateDirectory: String, job: String, run: String) -> String {
        "\(stateDirectory)/checkpoints/\(job)/\(run).json"
    }

    public static func load(from path: String) -> RunCheckpoint {
        (try? AtomicFile.readJSON(RunCheckpoint.self, from: path)) ?? RunCheckpoint()
    }

    public func save(to path: String) throws {
        try Directories.create((path as NSString).deletingLastPathComponent)
        try AtomicFile.writeJSON(self, to: path)
    }
}
