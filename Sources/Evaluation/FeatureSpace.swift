// What an evaluation measures images with: a feature space, as in the DreamBooth paper's
// metrics (shared/seeds). Subject fidelity (CLIP-I there) is the mean cosine similarity of
// generated images' features to the real subject images' features; prompt fidelity (CLIP-T)
// is how well each generated image shows its prompt; KID compares the two sets of features.
//
// Two spaces, chosen by `MeasureSelection`: `WorldFeatureSpace`, the default model's procedural
// world measured by its own rules, and `CLIPFeatureSpace` (CLIP's image and text encoders) for
// Stable Diffusion models.

import Imaging

public protocol FeatureSpace: Sendable {
    /// The measure's name, as `dropbooth.json` selects it: "world", "clip".
    var measure: String { get }
    /// What the report calls the two fidelity scores in this space, e.g. "CLIP-I" and "CLIP-T".
    var subjectFidelityName: String { get }
    var promptFidelityName: String { get }

    /// One feature vector per image, all of the same length, L2-normalised (or all zeros when
    /// the space finds nothing in an image), so that a dot product is a cosine similarity.
    func imageFeatures(_ images: [RGBImage]) throws -> [[Float]]

    /// For each image with the prompt it was drawn from: how well the image shows the prompt
    /// (higher is better). nil where the space cannot judge that prompt (it names nothing the
    /// space knows).
    func promptFidelity(_ images: [RGBImage], prompts: [String]) throws -> [Double?]

    /// The same, given the images' `imageFeatures` (a space that judges prompts with them need
    /// not compute them again: CLIP's vision tower is the costly part) and the subjects'
    /// identifiers in the prompts with the words that stand for them (for a space that cannot
    /// read an identifier: CLIP). By default both are ignored.
    func promptFidelity(_ images: [RGBImage], features: [[Float]], prompts: [String], subjects: [SubjectWord]) throws -> [Double?]
}

extension FeatureSpace {
    public func promptFidelity(_ images: [RGBImage], features: [[Float]], prompts: [String], subjects: [SubjectWord]) throws -> [Double?] {
        try promptFidelity(images, prompts: prompts)
    }
}
