// The one place a measure name becomes a feature space: "world" is the procedural world's own
// measure, "clip" a `CLIPFeatureSpace` over the CLIPModel folder `clip_model` names (relative to
// the folder dropbooth.json is in, or absolute).

import Foundation
import Diffusion

public enum MeasureSelection {
    /// The feature space `settings` name for the model at `modelPath`.
    public static func featureSpace(_ settings: ModelEvaluationSettings, modelPath: String) throws -> any FeatureSpace {
        let file = ModelEvaluationSettings.path(forModel: modelPath)
        switch settings.measure {
        case "world":
            return WorldFeatureSpace()
        case "clip":
            guard let clipModel = settings.clipModel else {
                throw EvaluationError("\(file): evaluation.clip_model is missing; the \"clip\" measure needs a transformers CLIPModel folder, "
                    + "e.g. {\"evaluation\": {\"measure\": \"clip\", \"clip_model\": \"/models/clip-vit-large-patch14\"}}")
            }
            let folder = clipModelFolder(clipModel, settingsFile: file)
            do {
                return CLIPFeatureSpace(model: try CLIPScoringModel(folder: URL(fileURLWithPath: folder)))
            } catch {
                throw EvaluationError("\(file): evaluation.clip_model \"\(clipModel)\" (\(folder)) cannot be loaded as a transformers CLIPModel folder: \(error)")
            }
        default:
            throw EvaluationError("\(file): evaluation.measure is \"\(settings.measure)\"; expected one of \(ModelEvaluationSettings.measures.joined(separator: ", "))")
        }
    }

    /// `clipModel` as written in the settings file at `settingsFile`: absolute, or relative to
    /// that file's folder (the model's folder; for a single-file model, the folder it is in).
    public static func clipModelFolder(_ clipModel: String, settingsFile: String) -> String {
        if clipModel.hasPrefix("/") { return clipModel }
        let base = (settingsFile as NSString).deletingLastPathComponent
        return URL(fileURLWithPath: base).appendingPathComponent(clipModel).standardizedFileURL.path
    }

    /// The model's feature space, or why there is none (no dropbooth.json, a broken file, a
    /// CLIP model that does not load).
    public static func featureSpace(forModel modelPath: String) throws -> any FeatureSpace {
        guard let settings = try ModelEvaluationSettings.load(modelPath: modelPath) else {
            throw EvaluationError("the base model \(modelPath) has no \(ModelEvaluationSettings.fileName) saying how to evaluate it "
                + "(\(ModelEvaluationSettings.path(forModel: modelPath)), e.g. {\"evaluation\": {\"measure\": \"world\"}}), so the run is not scored")
        }
        return try featureSpace(settings, modelPath: modelPath)
    }
}
