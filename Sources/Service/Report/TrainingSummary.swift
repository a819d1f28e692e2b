import Foundation

/// What the training phase leaves behind for the report, in `<work>/training/summary.json`:
/// the loss curve, how long each part of training took, the grids it drew and the files it
/// exported. The training phase writes it (and rewrites it at each checkpoint, so a resumed
/// run keeps the curve from before the restart); the report phase reads it. A file rather than
/// a value in memory because the two phases may run in different processes after a restart.
public struct TrainingSummary: Codable, Sendable, Equatable {
    /// Relative to the run's work directory.
    public static let relativePath = "training/summary.json"

    /// "lora", "dreambooth", "textual_inversion".
    public var method: String
    /// The registry name of the base model, and what it resolved to (folder or file).
    public var baseModel: String
    public var baseModelPath: String
    /// Optimiser steps done (== the recipe's steps when training finished).
    public var steps: Int
    public var totalSteps: Int
    /// Images trained on (instance images after preflight), and prior-preservation class images.
    public var images: Int
    public var classImages: Int
    /// Wall-clock seconds per part of training: "class_images", "cache", "train", "samples",
    /// "export". Parts a method does not have are absent.
    public var seconds: [String: Double]
    /// One point per optimiser step: the mean loss of its micro-batches.
    public var losses: [LossPoint]
    /// Sample grids drawn, in the order they were drawn (intermediate ones, then the final one).
    public var grids: [Grid]
    /// Files exported for other tools.
    public var outputs: [Output]

    public struct LossPoint: Codable, Sendable, Equatable {
        public var step: Int
        public var loss: Double
        public var learningRate: Double
        public init(step: Int, loss: Double, learningRate: Double) {
            self.step = step; self.loss = loss; self.learningRate = learningRate
        }
    }

    public struct Grid: Codable, Sendable, Equatable {
        /// Relative to the work directory, e.g. "samples/step-000250.jpg".
        public var file: String
        /// The optimiser step the grid shows (0: the base model before training).
        public var step: Int
        /// One line for the report, e.g. "after 250 steps" or "base model | trained".
        public var title: String
        /// True when the grid puts base-model images next to the trained ones.
        public var comparesBase: Bool
        public init(file: String, step: Int, title: String, comparesBase: Bool) {
            self.file = file; self.step = step; self.title = title; self.comparesBase = comparesBase
        }
    }

    public struct Output: Codable, Sendable, Equatable {
        /// Relative to the work directory, e.g. "pytorch_lora_weights.safetensors" or "model/".
        public var file: String
        /// The recipe's output format name: "diffusers", "kohya", "a1111", "single_file".
        public var format: String
        /// What the file is, in a sentence.
        public var description: String
        /// How to use it, e.g. a diffusers snippet or where to put it for the A1111 web UI.
        public var usage: String
        public init(file: String, format: String, description: String, usage: String) {
            self.file = file; self.format = format; self.description = description; self.usage = usage
        }
    }

    public init(method: String, baseModel: String, baseModelPath: String, steps: Int, totalSteps: Int,
                images: Int, classImages: Int, seconds: [String: Double] = [:], losses: [LossPoint] = [],
                grids: [Grid] = [], outputs: [Output] = []) {
        self.method = method; self.baseModel = baseModel; self.baseModelPath = baseModelPath
        self.steps = steps; self.totalSteps = totalSteps; self.images = images; self.classImages = classImages
        self.seconds = seconds; self.losses = losses; self.grids = grids; self.outputs = outputs
    }
}
