import Foundation
import Imaging
import ModelIO
import Testing
import Diffusion
@testable import Evaluation

/// The CLIP measure on the tiny CLIPModel of Tests/Fixtures/clip-scoring (scripts/fixtures/
/// clip_scoring.py): its features are the model's image embeddings, and CLIP-T is the cosine of
/// each image's embedding with its prompt's, checked against the embeddings transformers
/// computed for the fixture (reference.safetensors), so independently of the Swift model.
/// Tolerance 1e-5: the Swift embeddings match transformers' within 1e-5 per value
/// (CLIPScoringTests), and a cosine of unit vectors sums products of those.
@Suite struct CLIPFeatureSpaceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/clip-scoring")
    static let modelFolder = root.appendingPathComponent("model")
    /// The fixture's images and prompts, in reference.json's order.
    static let imageNames = ["wide", "tall", "small", "tiny", "exact"]
    static let prompts = ["a photo of sks dog", "A red cube on a table, studio lighting!", "x",
                          String(repeating: "a very long prompt ", count: 12)]

    static func images() throws -> [RGBImage] {
        try imageNames.map { name in
            let url = root.appendingPathComponent("images").appendingPathComponent(name + ".png")
            return try ImageDecoder.decode([UInt8](Data(contentsOf: url))).image
        }
    }

    /// transformers' embeddings, one row of `width` floats each.
    static func rows(_ name: String, count: Int) throws -> [[Float]] {
        let values = try SafeTensorsFile(path: root.appendingPathComponent("reference.safetensors").path).floats(name)
        let width = values.count / count
        return (0..<count).map { Array(values[$0 * width..<($0 + 1) * width]) }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices { dot += Double(a[i]) * Double(b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    @Test func namesTheMeasureAsThePaperDoes() throws {
        let space = CLIPFeatureSpace(model: try CLIPScoringModel(folder: Self.modelFolder))
        #expect(space.measure == "clip" && space.subjectFidelityName == "CLIP-I" && space.promptFidelityName == "CLIP-T")
    }

    @Test func featuresAreTheImageEmbeddings() throws {
        let space = CLIPFeatureSpace(model: try CLIPScoringModel(folder: Self.modelFolder))
        let features = try space.imageFeatures(Self.images())
        let expected = try Self.rows("image_embeds", count: Self.imageNames.count)
        #expect(features.count == expected.count)
        for (ours, theirs) in zip(features, expected) {
            #expect(ours.count == theirs.count)
            let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst < 1e-5, "largest difference \(worst)")
        }
    }

    /// Image i with prompt i mod 4 (so one prompt is shared by two images).
    @Test func promptFidelityIsTheCosineOfImageAndPromptEmbeddings() throws {
        let space = CLIPFeatureSpace(model: try CLIPScoringModel(folder: Self.modelFolder))
        let prompts = Self.imageNames.indices.map { Self.prompts[$0 % Self.prompts.count] }
        let scores = try space.promptFidelity(Self.images(), prompts: prompts)
        let imageEmbeds = try Self.rows("image_embeds", count: Self.imageNames.count)
        let textEmbeds = try Self.rows("text_embeds", count: Self.prompts.count)
        #expect(scores.count == Self.imageNames.count)
        for i in scores.indices {
            let expected = Self.cosine(imageEmbeds[i], textEmbeds[i % Self.prompts.count])
            let score = try #require(scores[i], "every prompt is judged")
            #expect(abs(score - expected) < 1e-5, "image \(i): \(score) vs \(expected)")
        }
        // Not all alike: the scores tell the pairs apart (else the comparison above proves little).
        #expect(Set(scores.map { ($0! * 1e4).rounded() }).count > 1)
    }

    /// "a photo of sks dog" is read as "a photo of dog" when the run says sks stands for a dog.
    @Test func aSubjectIdentifierIsReadAsItsClassNoun() throws {
        let model = try CLIPScoringModel(folder: Self.modelFolder)
        let space = CLIPFeatureSpace(model: model)
        let image = try [Self.images()[0]]
        let subjects = [SubjectWord(token: "sks", standIn: "dog")]
        let features = try space.imageFeatures(image)
        let read = try #require(try space.promptFidelity(image, features: features, prompts: ["a photo of sks dog"], subjects: subjects)[0])
        let raw = try #require(try space.promptFidelity(image, prompts: ["a photo of sks dog"])[0])
        let imageEmbedding = try model.imageEmbeddings(image)[0]
        let expected = Self.cosine(imageEmbedding, try model.textEmbeddings(["a photo of dog"])[0])
        let rawExpected = Self.cosine(imageEmbedding, try model.textEmbeddings(["a photo of sks dog"])[0])
        #expect(abs(read - expected) < 1e-6 && abs(raw - rawExpected) < 1e-6)
        #expect(abs(read - raw) > 1e-6, "the identifier changes the text CLIP reads")
    }

    @Test(arguments: [
        ("a photo of sks dog", "a photo of dog"),
        ("a Sks dog, on a beach", "a dog, on a beach"),
        ("sks on a beach", "dog on a beach"),
        ("a photo of sks.", "a photo of dog."),
        ("a <my-cat> toy", "a cat toy"),
        ("a photo of <my-cat>", "a photo of cat"),
        ("in the style of zwx, oil", "in the style of, oil"),
        ("asks a dog about sks", "asks a dog about dog"),
        ("no identifier here", "no identifier here"),
    ])
    func promptsAreReadWithStandIns(prompt: String, read: String) {
        let words = [SubjectWord(token: "sks", standIn: "dog"), SubjectWord(token: "<my-cat>", standIn: "cat"),
                     SubjectWord(token: "zwx", standIn: nil)]
        #expect(SubjectWord.readable(prompt, words) == read)
    }
}

@Suite struct CLIPMeasureSelectionTests {
    static func model(settings: String) throws -> TemporaryFolder {
        let model = try TemporaryFolder()
        try model.write(settings, to: "dropbooth.json")
        return model
    }

    @Test func aClipModelFolderSelectsTheCLIPSpace() throws {
        let model = try Self.model(settings: #"{"evaluation": {"measure": "clip", "clip_model": "\#(CLIPFeatureSpaceTests.modelFolder.path)"}}"#)
        let space = try MeasureSelection.featureSpace(forModel: model.path)
        #expect(space is CLIPFeatureSpace && space.measure == "clip" && space.promptFidelityName == "CLIP-T")
    }

    /// A relative clip_model is found beside the model (here: copied into the model's folder).
    @Test func aRelativeClipModelIsResolvedAgainstTheModelFolder() throws {
        let model = try Self.model(settings: #"{"evaluation": {"measure": "clip", "clip_model": "encoders/clip"}}"#)
        try FileManager.default.createDirectory(atPath: model.path + "/encoders", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLIPFeatureSpaceTests.modelFolder.path, toPath: model.path + "/encoders/clip")
        #expect(try MeasureSelection.featureSpace(forModel: model.path) is CLIPFeatureSpace)
        #expect(MeasureSelection.clipModelFolder("clip", settingsFile: "/m/sd15.dropbooth.json") == "/m/clip")
        #expect(MeasureSelection.clipModelFolder("../clip", settingsFile: "/m/sd/dropbooth.json") == "/m/clip")
        #expect(MeasureSelection.clipModelFolder("/opt/clip", settingsFile: "/m/sd/dropbooth.json") == "/opt/clip")
    }

    @Test func aMissingClipModelFieldIsNamed() throws {
        let model = try Self.model(settings: #"{"evaluation": {"measure": "clip"}}"#)
        let error = #expect(throws: EvaluationError.self) { try MeasureSelection.featureSpace(forModel: model.path) }
        #expect(error?.description.hasPrefix(model.path + "/dropbooth.json: evaluation.clip_model is missing") == true,
                "\(String(describing: error))")
    }

    @Test func aClipModelThatDoesNotLoadIsNamedWithTheFileItComesFrom() throws {
        let model = try Self.model(settings: #"{"evaluation": {"measure": "clip", "clip_model": "nowhere"}}"#)
        let error = #expect(throws: EvaluationError.self) { try MeasureSelection.featureSpace(forModel: model.path) }
        let text = error?.description ?? ""
        #expect(text.hasPrefix(model.path + "/dropbooth.json: evaluation.clip_model \"nowhere\""), "\(text)")
        #expect(text.contains(model.path + "/nowhere/config.json"), "the CLIP loader's own reason: \(text)")
    }
}
