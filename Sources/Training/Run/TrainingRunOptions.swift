// Everything a training run needs to know besides the images: the method and its options, as
// the service's recipe states them (the service maps its Recipe to this; the library knows no
// YAML).

import TensorEngine

public struct TrainingRunOptions: Sendable {
    public enum Method: Sendable, Equatable {
        /// LoRA adapters (also DreamBooth on the CPU: a LoRA trained on the instance prompt,
        /// with prior preservation when asked).
        case lora(LoRAOptions)
        /// Every UNet weight learns (DreamBooth's full fine-tune), and the text encoder's too
        /// when `trainTextEncoder`.
        case fullFineTune(trainTextEncoder: Bool)
        /// New token embeddings learn, nothing else.
        case textualInversion([Placeholder])
    }

    /// A textual-inversion token: the word in prompts, how many vectors it stands for and the
    /// existing word whose embedding starts every vector.
    public struct Placeholder: Sendable, Equatable {
        public var token: String
        public var vectors: Int
        public var initializer: String
        public init(token: String, vectors: Int, initializer: String) {
            self.token = token; self.vectors = vectors; self.initializer = initializer
        }
        /// "<tok>", "<tok>_1", …: the tokens the vectors occupy (diffusers' naming).
        public var tokenNames: [String] { (0..<vectors).map { $0 == 0 ? token : "\(token)_\($0)" } }
    }

    public var method: Method
    /// "lora", "dreambooth", "textual_inversion": for metadata and messages.
    public var methodName: String
    /// Square training size in pixels.
    public var resolution: Int
    public var centerCrop: Bool = true
    public var randomFlip: Bool = false
    /// Aspect-ratio buckets (`AspectRatioBuckets`): each image trains at a size of about
    /// resolution² close to its own shape instead of a square; a batch holds one size. Needs
    /// `centerCrop` and no prior preservation.
    public var buckets: Bool = false
    public var steps: Int
    public var batchSize: Int = 1
    public var optimizer: OptimizerOptions
    public var loss: LossOptions = .init()
    public var seed: UInt64 = 0
    public var gradientCheckpointing: Bool = false
    /// PEFT's lora_dropout, 0 ≤ p < 1 (LoRA methods only).
    public var loraDropout: Double = 0

    public init(method: Method, methodName: String, resolution: Int, steps: Int, optimizer: OptimizerOptions) {
        self.method = method; self.methodName = methodName; self.resolution = resolution
        self.steps = steps; self.optimizer = optimizer
    }
}

/// One image as training takes it: the decoded picture (EXIF orientation applied), the text it
/// is trained with, and which subject of the job it belongs to.
public struct TrainingImage: Sendable {
    public var name: String
    public var image: Imaging.RGBImage
    public var caption: String
    /// The subject (its index among the job's subjects) the image shows, or for a class image
    /// the subject whose class it is: prior preservation pairs each instance image with class
    /// images of its own subject's class (a dog's photos with dogs, a cat's with cats).
    public var subject: Int
    public init(name: String, image: Imaging.RGBImage, caption: String, subject: Int = 0) {
        self.name = name; self.image = image; self.caption = caption; self.subject = subject
    }
}

import Imaging

public struct TrainingRunError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func unsupportedDropout(_ p: Double) -> TrainingRunError {
        TrainingRunError("lora.dropout is \(p): expected at least 0 and below 1 (0.1 is typical; 0 turns it off)")
    }
}
