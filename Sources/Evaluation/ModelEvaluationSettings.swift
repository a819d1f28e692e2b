// How a base model says it can be evaluated: `dropbooth.json` in its folder (for a single-file
// checkpoint, `<name>.dropbooth.json` beside it):
//
//     {"evaluation": {"measure": "world"}}
//
// "world": the procedural world's own measure (models/default); "clip": CLIP image and text
// encoders (Stable Diffusion models), with "clip_model" naming a transformers CLIPModel folder
// (absolute, or relative to the folder this file is in). A model without the file is not evaluated, and the
// report says so: scores from a measure that does not fit the model would mislead.

import Foundation

public struct ModelEvaluationSettings: Sendable, Equatable, Codable {
    public static let fileName = "dropbooth.json"
    public static let measures = ["world", "clip"]

    public var measure: String
    /// The CLIP encoders' folder for the "clip" measure, as written in the file.
    public var clipModel: String?

    public init(measure: String, clipModel: String? = nil) { self.measure = measure; self.clipModel = clipModel }

    /// Where the settings of the model at `modelPath` (a folder or a single file) live.
    public static func path(forModel modelPath: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory), !isDirectory.boolValue {
            return ((modelPath as NSString).deletingPathExtension) + "." + fileName
        }
        return (modelPath as NSString).appendingPathComponent(fileName)
    }

    /// The model's settings; nil when it has no settings file. Throws, naming the file and the
    /// field, when the file is there but says something else than expected.
    public static func load(modelPath: String) throws -> ModelEvaluationSettings? {
        let path = path(forModel: modelPath)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try parse(data, file: path)
    }

    public static func parse(_ data: Data, file: String) throws -> ModelEvaluationSettings {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw EvaluationError("\(file): not valid JSON (\(error.localizedDescription)); expected e.g. {\"evaluation\": {\"measure\": \"world\"}}")
        }
        guard let top = json as? [String: Any] else {
            throw EvaluationError("\(file): expected a JSON object such as {\"evaluation\": {\"measure\": \"world\"}}")
        }
        guard let section = top["evaluation"] else {
            throw EvaluationError("\(file): no \"evaluation\" field; expected e.g. {\"evaluation\": {\"measure\": \"world\"}}")
        }
        guard let evaluation = section as? [String: Any] else {
            throw EvaluationError("\(file): \"evaluation\" must be an object, e.g. {\"measure\": \"world\"}")
        }
        guard let measure = evaluation["measure"] as? String else {
            throw EvaluationError("\(file): evaluation.measure is missing or not text; expected one of \(measures.joined(separator: ", "))")
        }
        guard measures.contains(measure) else {
            throw EvaluationError("\(file): evaluation.measure is \"\(measure)\"; expected one of \(measures.joined(separator: ", "))")
        }
        var clipModel: String?
        if let value = evaluation["clip_model"] {
            guard let text = value as? String, !text.isEmpty else {
                throw EvaluationError("\(file): evaluation.clip_model must be a folder path (text)")
            }
            clipModel = text
        }
        let known: Set<String> = ["measure", "clip_model"]
        if let unknown = evaluation.keys.sorted().first(where: { !known.contains($0) }) {
            throw EvaluationError("\(file): evaluation.\(unknown) is not a known field; known: \(known.sorted().joined(separator: ", "))")
        }
        return ModelEvaluationSettings(measure: measure, clipModel: clipModel)
    }

    /// The JSON the pretraining export writes for a model of the world.
    public static let worldFileContents = "{\n  \"evaluation\": {\"measure\": \"world\"}\n}\n"

    enum CodingKeys: String, CodingKey {
        case measure
        case clipModel = "clip_model"
    }
}
