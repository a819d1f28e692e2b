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
    /// Wall-clock seconds spent in each phase, summed over every start of the run (a phase
    /// resumed after a restart adds to its earlier time), for the report.
    public var phaseSeconds: [String: Double] = [:]
    /// When the process that last saved this file started `currentPhase`. A process killed
    /// in the middle of the phase never adds its time to `phaseSeconds`; the next start adds
    /// the time from here to the file's last save (the work that survived).
    public var currentPhaseStarted: Date?

    public init() {}

    enum CodingKeys: String, CodingKey { case completedPhases, currentPhase, step, started, values, phaseSeconds, currentPhaseStarted }

    /// Fields added in later versions may be missing from a checkpoint an older version wrote:
    /// such a run must still resume, not start over.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        completedPhases = try c.decodeIfPresent([String].self, forKey: .completedPhases) ?? []
        currentPhase = try c.decodeIfPresent(String.self, forKey: .currentPhase)
        step = try c.decodeIfPresent(Int.self, forKey: .step) ?? 0
        started = try c.decodeIfPresent(Date.self, forKey: .started)
        values = try c.decodeIfPresent([String: String].self, forKey: .values) ?? [:]
        phaseSeconds = try c.decodeIfPresent([String: Double].self, forKey: .phaseSeconds) ?? [:]
        currentPhaseStarted = try c.decodeIfPresent(Date.self, forKey: .currentPhaseStarted)
    }

    /// Adds `seconds` to `phase`'s total.
    public mutating func addSeconds(_ seconds: Double, to phase: String) {
        phaseSeconds[phase, default: 0] += max(0, seconds)
    }

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
