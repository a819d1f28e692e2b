// What a checkpoint's weights cannot say, given by the caller (a model registry entry) or by a
// sidecar file next to a single-file checkpoint.
//
// SD 2.x 768-v and 512-base checkpoints have identical tensor names and shapes: only their
// training differed (v-prediction vs epsilon). A single file is therefore read as epsilon
// unless told otherwise, by (highest first):
//   1. `CheckpointOptions.predictionType` / `upcastAttention` (e.g. from the model registry);
//   2. a sidecar `<name>.json` beside `<name>.safetensors`:
//        { "prediction_type": "v_prediction", "upcast_attention": true,
//          "unet": {…}, "vae": {…}, "text_encoder": {…}, "scheduler": {…} }
//      where each component object holds config.json keys that replace the inferred ones
//      (e.g. "unet": {"attention_head_dim": [5, 10, 20, 20]} for an unusual head layout);
//   3. a sidecar `<name>.yaml`, the original LDM inference config the web UIs place beside a
//      checkpoint: its `parameterization: "v"` line means v-prediction (when both sidecars
//      exist, the .json's keys win);
//   4. otherwise epsilon, no upcast (SD 1.x and SD 2.x 512-base).
// Diffusers folders carry all of this in their own configs; the options override it too.
import Foundation

public struct CheckpointOptions: Sendable, Equatable {
    public var predictionType: PredictionType?
    public var upcastAttention: Bool?
    /// Prefer `<weights>.<variant>.safetensors` in a diffusers folder (e.g. "fp16"). Without it
    /// the plain files are used, and a folder that only has one variant uses that.
    public var variant: String?
    /// A sidecar to read instead of `<name>.json` / `<name>.yaml` beside a single file.
    public var sidecarPath: String?

    public init(predictionType: PredictionType? = nil, upcastAttention: Bool? = nil,
                variant: String? = nil, sidecarPath: String? = nil) {
        self.predictionType = predictionType; self.upcastAttention = upcastAttention
        self.variant = variant; self.sidecarPath = sidecarPath
    }
}

/// A sidecar's content.
struct SingleFileSidecar {
    var predictionType: PredictionType?
    var upcastAttention: Bool?
    /// Config keys per component ("unet", "vae", "text_encoder", "scheduler").
    var overrides: [String: [String: JSONValue]] = [:]

    /// The sidecar for `checkpoint` (explicit path, or <name>.json, or <name>.yaml), if any.
    static func find(for checkpoint: String, explicit: String?) throws -> SingleFileSidecar {
        let stem = (checkpoint as NSString).deletingPathExtension
        let fm = FileManager.default
        if let explicit {
            guard fm.fileExists(atPath: explicit) else { throw CheckpointError.missingFile(path: explicit, what: "(the sidecar given for \(checkpoint))") }
            return explicit.hasSuffix(".json") ? try json(explicit) : try yaml(explicit)
        }
        var s = SingleFileSidecar()
        for ext in [".yaml", ".yml"] where fm.fileExists(atPath: stem + ext) { s = try yaml(stem + ext); break }
        if fm.fileExists(atPath: stem + ".json") {
            let j = try json(stem + ".json")
            s.predictionType = j.predictionType ?? s.predictionType
            s.upcastAttention = j.upcastAttention ?? s.upcastAttention
            s.overrides = j.overrides
        }
        return s
    }

    static func json(_ path: String) throws -> SingleFileSidecar {
        guard case .object(let o) = try JSONValue.read(path) else {
            throw CheckpointError.badJSON(path: path, reason: "expected a JSON object")
        }
        var s = SingleFileSidecar()
        for (key, value) in o {
            switch key {
            case "prediction_type":
                guard case .string(let p) = value, let t = PredictionType(rawValue: p) else {
                    throw CheckpointError.badConfigValue(path: path, key: key, expected: "\"epsilon\" or \"v_prediction\"", found: value.description)
                }
                s.predictionType = t
            case "upcast_attention":
                guard case .bool(let b) = value else {
                    throw CheckpointError.badConfigValue(path: path, key: key, expected: "true or false", found: value.description)
                }
                s.upcastAttention = b
            case "unet", "vae", "text_encoder", "scheduler":
                guard case .object(let keys) = value else {
                    throw CheckpointError.badConfigValue(path: path, key: key, expected: "an object of config.json keys", found: value.description)
                }
                s.overrides[key] = keys
            default:
                throw CheckpointError.unsupportedConfig(path: path, key: key, value: value.description,
                    reason: "a sidecar holds prediction_type, upcast_attention and unet/vae/text_encoder/scheduler objects")
            }
        }
        return s
    }

    /// Only the parameterization line of an LDM config: the rest of it (channel counts, …) is
    /// read from the weights themselves.
    static func yaml(_ path: String) throws -> SingleFileSidecar {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CheckpointError.missingFile(path: path, what: "(cannot read the sidecar)")
        }
        var s = SingleFileSidecar()
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard let v = t.dropPrefix("parameterization:") else { continue }
            let value = v.split(separator: "#").first.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"'")) } ?? ""
            switch value {
            case "v": s.predictionType = .vPrediction
            case "eps": s.predictionType = .epsilon
            default:
                throw CheckpointError.badConfigValue(path: "\(path):\(n + 1)", key: "parameterization", expected: "\"v\" or \"eps\"", found: value)
            }
        }
        return s
    }
}
