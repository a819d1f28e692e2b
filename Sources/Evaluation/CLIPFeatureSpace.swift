// The DreamBooth paper's measures for Stable Diffusion models: CLIP-I, the mean cosine
// similarity of CLIP image embeddings of generated images with those of the real subject
// photos, and CLIP-T, the mean cosine similarity of each generated image's CLIP embedding with
// its prompt's. Embeddings come from a transformers CLIPModel folder (`CLIPScoringModel`,
// L2-normalised, so a dot product is the cosine); KID uses the same image embeddings.
//
// Which text CLIP-T embeds for a prompt with a subject identifier ("a photo of sks dog"): the
// prompt with the identifier replaced by the ordinary word it stands for, the class noun (or
// textual inversion's initializer), dropped where that word follows already: "a photo of dog".
// The paper defines CLIP-T as the cosine between "prompt and image CLIP embeddings" and does
// not spell out the identifier (the paper itself is not among shared/seeds; this follows its
// definition's intent). Why not the raw prompt: the scoring CLIP never learnt the identifier,
// and a rare token still has a meaning of its own to it ("sks" is a rifle maker), so the raw
// prompt would score the images partly against that meaning, and against it differently for
// the base and the trained model's images. What the prompt asks beyond the subject (context,
// style, "on a beach") is what CLIP-T is meant to measure, and the class noun keeps the
// subject's kind in it. The identifiers come from samples.json (`SubjectWord`); without them
// (older runs, recipes without a token) prompts are embedded as written.

import Foundation
import Diffusion
import Imaging

public struct CLIPFeatureSpace: FeatureSpace {
    public let measure = "clip"
    public let subjectFidelityName = "CLIP-I"
    public let promptFidelityName = "CLIP-T"

    public let model: CLIPScoringModel

    public init(model: CLIPScoringModel) { self.model = model }

    public func imageFeatures(_ images: [RGBImage]) throws -> [[Float]] {
        try model.imageEmbeddings(images)
    }

    public func promptFidelity(_ images: [RGBImage], prompts: [String]) throws -> [Double?] {
        try promptFidelity(images, features: imageFeatures(images), prompts: prompts, subjects: [])
    }

    /// The cosine of each image's embedding (`features`, from `imageFeatures`) with the
    /// embedding of its prompt as CLIP reads it (`SubjectWord.readable`); every prompt is judged.
    public func promptFidelity(_ images: [RGBImage], features: [[Float]], prompts: [String], subjects: [SubjectWord]) throws -> [Double?] {
        precondition(images.count == prompts.count && features.count == images.count, "one prompt and one feature vector per image")
        let texts = prompts.map { SubjectWord.readable($0, subjects) }
        // Samples share prompts (several seeds each): each distinct text is encoded once.
        var distinct: [String] = []
        for text in texts where !distinct.contains(text) { distinct.append(text) }
        let textEmbeddings = try Dictionary(uniqueKeysWithValues: zip(distinct, model.textEmbeddings(distinct)))
        return zip(features, texts).map { image, text in Similarity.dot(image, textEmbeddings[text]!) }
    }
}
