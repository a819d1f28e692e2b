/// A job's recipe: what to train, on which base model, how, and what to publish.
///
/// Loaded from `recipe.yaml` in a job folder (schema `version: 1`, documented field by field in
/// recipes/*.yaml). Every field has a value here: defaults for the method are filled in while
/// loading, so the rest of the service never guesses. `effectiveYAML()` writes it back out.
public struct Recipe: Sendable, Equatable {
    /// The recipe file a job folder must contain.
    public static let fileName = "recipe.yaml"
    /// The schema versions this build reads.
    public static let supportedVersions = [1]

    /// Training and sample sizes are multiples of this. It is the smallest step of any model
    /// dropbooth loads (the default model: 4× autoencoder, latents halved twice); the recipe
    /// does not know its base model's architecture, so the training phase checks the model's
    /// own step (64 for SD 1.x/2.x: 8× autoencoder, latents halved three times).
    public static let sizeStep = 16
    static let sizeStepReason = "the model works on downsampled latents; SD 1.x/2.x models need multiples of 64"

    public enum Method: String, Sendable, Equatable, CaseIterable {
        case lora
        case dreambooth
        case textualInversion = "textual_inversion"
    }

    public var version: Int
    public var method: Method
    /// A name from the service's model registry (`models:` in the config); never a path.
    public var baseModel: String
    /// Only the preflight: decode and crop the images, publish the contact sheet and estimates.
    public var dryRun: Bool
    /// What to learn. One subject uses the images at the top of the job folder; several subjects
    /// each have their own folder. Textual inversion learns exactly one.
    public var subjects: [Subject]
    public var captions: Captions
    public var priorPreservation: PriorPreservation
    public var train: Train
    /// LoRA settings; nil unless `method` is `.lora`.
    public var lora: LoRA?
    public var samples: Samples
    public var outputs: Outputs

    public struct Subject: Sendable, Equatable {
        /// The identifier in prompts: a rare token for DreamBooth/LoRA (`sks`), the new
        /// placeholder for textual inversion (`<my-cat>`). Optional for LoRA (style training).
        public var token: String?
        /// The class noun (`dog`, `person`); required for DreamBooth and for prior preservation.
        public var className: String?
        /// Textual inversion: the existing word whose embedding starts the new one.
        public var initializer: String?
        /// Textual inversion: how many embedding vectors the token stands for.
        public var vectors: Int
        /// Caption for images without a caption file; `{token}` and `{class}` are filled in.
        public var instancePrompt: String
        /// Prompt for prior-preservation class images (`{class}` filled in).
        public var classPrompt: String
        /// Images of this subject, relative to the job folder (`.` is the job folder itself).
        public var folder: String
        /// Prior-preservation images provided by the user, relative to the job folder; missing
        /// ones are generated from `classPrompt` with the base model.
        public var classFolder: String

        public init(token: String? = nil, className: String? = nil, initializer: String? = nil, vectors: Int = 1,
                    instancePrompt: String, classPrompt: String, folder: String = ".", classFolder: String = "class") {
            self.token = token; self.className = className; self.initializer = initializer; self.vectors = vectors
            self.instancePrompt = instancePrompt; self.classPrompt = classPrompt
            self.folder = folder; self.classFolder = classFolder
        }

        /// Fills `{token}`, `{class}` and (for caption templates) `{caption}` into a template.
        public func expand(_ template: String, caption: String? = nil) -> String {
            var text = template
            text = text.replacing("{token}", with: token ?? "")
            text = text.replacing("{class}", with: className ?? "")
            if let caption { text = text.replacing("{caption}", with: caption) }
            return text
        }
    }

    /// Where each image's training caption comes from.
    public struct Captions: Sendable, Equatable {
        /// Use `<image>.txt` next to an image when it exists; otherwise the subject's instance prompt.
        public var useFiles: Bool
        /// Applied to a caption file's text: `{caption}`, `{token}`, `{class}` are filled in.
        public var template: String
    }

    public struct PriorPreservation: Sendable, Equatable {
        public var enabled: Bool
        /// λ of the prior-preservation loss term.
        public var weight: Double
        /// Class images per subject (from `classFolder`, the rest generated).
        public var classImages: Int
    }

    public enum LRSchedule: String, Sendable, Equatable, CaseIterable {
        case constant, linear, cosine
    }

    public struct Train: Sendable, Equatable {
        public var steps: Int
        /// Square training size in pixels (a multiple of `Recipe.sizeStep`; the base model may
        /// need more, which the training phase checks).
        public var resolution: Int
        public var batchSize: Int
        public var gradientAccumulation: Int
        public var learningRate: Double
        /// Shape of the learning rate after warmup (linear warmup from 0 over `warmupSteps`).
        public var lrSchedule: LRSchedule
        public var warmupSteps: Int
        public var seed: Int
        public var trainTextEncoder: Bool
        /// Save a resumable checkpoint every this many steps (0: only at the end).
        public var checkpointEvery: Int
        public var centerCrop: Bool
        public var randomFlip: Bool
        /// Gradient clipping by global norm; nil: no clipping.
        public var maxGradNorm: Double?
        public var noiseOffset: Double
        /// Min-SNR loss weighting γ; nil: plain MSE.
        public var minSNRGamma: Double?
        /// Recompute activations in the backward pass: less memory, about a third more time.
        public var gradientCheckpointing: Bool
        /// DreamBooth only: train every UNet weight (and the text encoder's with
        /// `trainTextEncoder`) instead of a LoRA. About 16 bytes of memory per parameter.
        public var fullFineTune: Bool = false
        /// Aspect-ratio buckets: each photo trains at a size of about resolution² pixels close
        /// to its own shape instead of a square crop; batches come from one size at a time.
        public var buckets: Bool = false
    }

    public enum LoRATarget: String, Sendable, Equatable, CaseIterable {
        /// The UNet's attention projections (to_q, to_k, to_v, to_out.0).
        case attention
        /// The UNet transformer blocks' feed-forward layers.
        case feedForward = "feed_forward"
        /// The resnet blocks' convolutions.
        case resnetConv = "resnet_conv"
        /// The CLIP text encoder's attention and MLP layers.
        case textEncoder = "text_encoder"
    }

    public struct LoRA: Sendable, Equatable {
        public var rank: Int
        /// Scale is alpha / rank.
        public var alpha: Double
        public var targets: [LoRATarget]
        public var dropout: Double
    }

    public enum Sampler: String, Sendable, Equatable, CaseIterable {
        case ddim, pndm, euler
        case eulerAncestral = "euler_ancestral"
        case dpmpp2m = "dpmpp_2m"
    }

    public struct Samples: Sendable, Equatable {
        /// Grid rows; `{token}` and `{class}` are filled in (one subject only).
        public var prompts: [String]
        public var negativePrompt: String
        /// Grid columns: one image per seed.
        public var seeds: [Int]
        public var steps: Int
        public var sampler: Sampler
        /// Karras sigma spacing (euler, euler_ancestral, dpmpp_2m).
        public var karras: Bool
        public var guidance: Double
        /// Draw an intermediate grid every this many steps (0: only at the end).
        public var every: Int
        public var width: Int
        public var height: Int
        /// Put the base model's images next to the trained ones.
        public var compareBase: Bool
        /// Where the starting noise comes from: `torch` gives diffusers' images for a seed.
        public var rng: SampleRNG = .torch
    }

    public enum SampleRNG: String, Sendable, Equatable, CaseIterable {
        /// PyTorch's CPU generator: the images diffusers draws for the same seed.
        case torch
        /// dropbooth's own generator.
        case native
    }

    public enum OutputFormat: String, Sendable, Equatable, CaseIterable {
        /// LoRA: PEFT/diffusers keys (pytorch_lora_weights.safetensors); DreamBooth: a diffusers
        /// folder; textual inversion: learned_embeds.safetensors.
        case diffusers
        /// LoRA in the kohya key convention, what A1111 and ComfyUI load.
        case kohya
        /// Textual inversion embedding as the A1111 web UI loads it.
        case a1111
        /// DreamBooth as one .safetensors with the original LDM key names.
        case singleFile = "single_file"

        public static func allowed(for method: Method) -> [OutputFormat] {
            switch method {
            case .lora: [.diffusers, .kohya]
            case .dreambooth: [.diffusers, .kohya, .singleFile]
            case .textualInversion: [.diffusers, .a1111]
            }
        }
    }

    public struct Outputs: Sendable, Equatable {
        public var formats: [OutputFormat]
    }
}
