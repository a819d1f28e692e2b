// The one place a measure name becomes a feature space. A CLIP space plugs in here: it needs a
// type conforming to `FeatureSpace` built from `settings.clipModel` (resolved against the
// model's folder), e.g. over a `CLIPScoringModel` with
//     imageEmbeddings([RGBImage]) -> [[Float]]   (L2-normalised)
//     textEmbeddings([String]) -> [[Float]]      (L2-normalised)
// whose `imageFeatures` are the image embeddings and whose `promptFidelity` is the cosine of
// each image's embedding with its prompt's (CLIP-T).

import Foundation

public enum MeasureSelection {
    public static let clipUnavailable = "the CLIP measure is not available in this build yet"

    /// The feature space `settings` name for the model at `modelPath`.
    public static func featureSpace(_ settings: ModelEvaluationSettings, modelPath: String) throws -> any FeatureSpace {
        switch settings.measure {
        case "world":
            return WorldFeatureSpace()
        case "clip":
            throw EvaluationError(clipUnavailable)
        default:
            throw EvaluationError("\(ModelEvaluationSettings.path(forModel: modelPath)): evaluation.measure is \"\(settings.measure)\"; expected one of \(ModelEvaluationSettings.measures.joined(separator: ", "))")
        }
    }

    /// The model's feature space, or why there is none (no dropbooth.json, a measure this build
    /// lacks, a broken file).
    public static func featureSpace(forModel modelPath: String) throws -> any FeatureSpace {
        guard let settings = try ModelEvaluationSettings.load(modelPath: modelPath) else {
            throw EvaluationError("the base model \(modelPath) has no \(ModelEvaluationSettings.fileName) saying how to evaluate it "
                + "(\(ModelEvaluationSettings.path(forModel: modelPath)), e.g. {\"evaluation\": {\"measure\": \"world\"}}), so the run is not scored")
        }
        return try featureSpace(settings, modelPath: modelPath)
    }
}
