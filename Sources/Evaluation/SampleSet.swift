// samples/samples.json in a run folder: the final samples the training job kept as files, so
// that a run can be evaluated (again) after it ended, by the job or by `dropbooth eval`.
//
//     samples/base/NNN.png       the base model's images (when the recipe compares against it)
//     samples/trained/NNN.png    the trained model's images, same prompts and seeds
//     samples/training/NNN.png   the photos trained on, centre-cropped to the samples' size
//
// Paths are relative to the run folder.

import Foundation
import Imaging

public struct SampleSet: Codable, Sendable, Equatable {
    public static let relativePath = "samples/samples.json"
    public static let baseFolder = "samples/base"
    public static let trainedFolder = "samples/trained"
    public static let trainingFolder = "samples/training"

    public struct Sample: Codable, Sendable, Equatable {
        public var prompt: String
        public var seed: UInt64
        public var file: String
        public init(prompt: String, seed: UInt64, file: String) { self.prompt = prompt; self.seed = seed; self.file = file }
    }

    public struct TrainingImage: Codable, Sendable, Equatable {
        /// The photo's name in the job folder.
        public var name: String
        public var caption: String
        public var file: String
        public init(name: String, caption: String, file: String) { self.name = name; self.caption = caption; self.file = file }
    }

    /// The base model's registry name and the folder or file it resolved to when the job ran.
    public var baseModel: String
    public var baseModelPath: String
    /// Steps the trained samples were drawn after.
    public var steps: Int
    public var width: Int
    public var height: Int
    /// Empty when the recipe does not compare against the base model.
    public var base: [Sample]
    public var trained: [Sample]
    public var training: [TrainingImage]
    /// The subjects' identifiers in the prompts and the words that stand for them (CLIP-T reads
    /// prompts with those); nil in files written before they were recorded.
    public var subjectWords: [SubjectWord]?

    public init(baseModel: String, baseModelPath: String, steps: Int, width: Int, height: Int,
                base: [Sample], trained: [Sample], training: [TrainingImage], subjectWords: [SubjectWord]? = nil) {
        self.baseModel = baseModel; self.baseModelPath = baseModelPath; self.steps = steps
        self.width = width; self.height = height; self.base = base; self.trained = trained; self.training = training
        self.subjectWords = subjectWords
    }

    /// `NNN.png` in `folder`, the name of image `index`.
    public static func file(_ folder: String, _ index: Int) -> String { String(format: "%@/%03d.png", folder, index) }

    /// samples.json of the run folder `run`.
    public static func load(runFolder run: String) throws -> SampleSet {
        let path = (run as NSString).appendingPathComponent(relativePath)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationError("\(path) is missing: the run kept no final samples (the recipe draws none, the run has not finished training, or it was made by an older dropbooth)")
        }
        do { return try JSONDecoder().decode(SampleSet.self, from: data) } catch {
            throw EvaluationError("\(path) cannot be read: \(error)")
        }
    }

    /// Decodes the images `files` name, relative to the run folder.
    public static func images(_ files: [String], runFolder run: String) throws -> [RGBImage] {
        try files.map { file in
            guard !file.hasPrefix("/"), !file.split(separator: "/").contains("..") else {
                throw EvaluationError("\(relativePath): \(file) is not a path inside the run folder")
            }
            let path = (run as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw EvaluationError("\(path), listed in \(relativePath), is missing")
            }
            do { return try ImageDecoder.decode([UInt8](data)).image } catch {
                throw EvaluationError("\(path), listed in \(relativePath), cannot be decoded: \(error)")
            }
        }
    }
}
