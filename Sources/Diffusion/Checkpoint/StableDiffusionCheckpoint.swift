// A Stable Diffusion 1.x/2.x base model opened from disk: the configs of its networks and
// their parameters under diffusers names, whatever the layout on disk.
//
//   let ckpt = try StableDiffusionCheckpoint.open("/models/sd15")                  // diffusers folder
//   let ckpt = try StableDiffusionCheckpoint.open("/models/v2-1_768.safetensors",
//                                                 options: .init(predictionType: .vPrediction))
//   ckpt.unetConfig, ckpt.weights(.unet)  → what UNet(config:weights:) needs
//
// Weights stay memory-mapped: float32 tensors are views of the file, float16/bfloat16 ones are
// widened when a model reads them.
import Foundation

public final class StableDiffusionCheckpoint: @unchecked Sendable {
    public enum Format: Sendable, Equatable {
        case diffusersFolder
        /// The original LDM layout; `family` from its text encoder.
        case singleFile(family: Family)
    }
    public enum Family: String, Sendable, Equatable { case sd1 = "SD 1.x", sd2 = "SD 2.x" }

    public let path: String
    public let format: Format
    public let unetConfig: UNetConfig
    public let vaeConfig: VAEConfig
    public let textEncoderConfig: CLIPTextConfig
    public let schedulerConfig: SchedulerConfig
    /// The folder with vocab.json and merges.txt (diffusers folders); nil for single files,
    /// which carry no tokenizer: SD 1.x and 2.x both use CLIP's BPE vocabulary.
    public let tokenizerFolder: String?
    /// The text encoder config's eos_token_id, where the pooled output is read (transformers
    /// semantics): nil for single files (CLIP's 49407 applies) and for old configs that say 2,
    /// which transformers treats as "take the highest id".
    public let endOfTextTokenID: Int?
    private let components: [CheckpointComponent: CheckpointWeights]

    /// Image sizes this model trains and samples at are multiples of this: the autoencoder's
    /// factor times the UNet's halvings of the latents (64 for SD 1.x/2.x, 16 for the default model).
    public var sizeStep: Int {
        vaeConfig.downscale * unetConfig.spatialMultiple
    }

    public func weights(_ c: CheckpointComponent) -> CheckpointWeights { components[c]! }
    public var unetWeights: CheckpointWeights { weights(.unet) }
    public var vaeWeights: CheckpointWeights { weights(.vae) }
    public var textEncoderWeights: CheckpointWeights { weights(.textEncoder) }

    private init(path: String, format: Format, unet: UNetConfig, vae: VAEConfig, text: CLIPTextConfig,
                 scheduler: SchedulerConfig, tokenizer: String?, endOfText: Int?, components: [CheckpointComponent: CheckpointWeights]) {
        self.path = path; self.format = format; unetConfig = unet; vaeConfig = vae; textEncoderConfig = text
        schedulerConfig = scheduler; tokenizerFolder = tokenizer; endOfTextTokenID = endOfText; self.components = components
    }

    /// Opens a diffusers folder or a single `.safetensors` file. Pickle files are refused.
    public static func open(_ path: String, options: CheckpointOptions = CheckpointOptions()) throws -> StableDiffusionCheckpoint {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CheckpointError.missingFile(path: path, what: "(no such file or folder)")
        }
        if isDir.boolValue { return try openFolder(path, options: options) }
        let ext = (path as NSString).pathExtension.lowercased()
        if DiffusersFolder.pickleExtensions.contains(ext) || looksLikePickle(path) { throw CheckpointError.pickleRefused(path: path) }
        guard ext == "safetensors" else {
            throw CheckpointError.notACheckpoint(path: path, reason: "expected a diffusers folder or a .safetensors file")
        }
        let single = try SingleFileCheckpoint(path: path, options: options)
        return StableDiffusionCheckpoint(path: path, format: .singleFile(family: single.family == .sd1 ? .sd1 : .sd2),
                                         unet: single.unet, vae: single.vae, text: single.textEncoder, scheduler: single.scheduler,
                                         tokenizer: nil, endOfText: nil, components: single.weights)
    }

    private static func openFolder(_ folder: String, options: CheckpointOptions) throws -> StableDiffusionCheckpoint {
        func sub(_ parts: String...) -> String { parts.reduce(folder) { ($0 as NSString).appendingPathComponent($1) } }
        let fm = FileManager.default
        guard fm.fileExists(atPath: sub("model_index.json")) else {
            throw CheckpointError.notACheckpoint(path: folder, reason: "a folder must be a diffusers pipeline with model_index.json")
        }
        try DiffusersFolder.checkModelIndex(folder)
        func config(_ c: String, _ file: String = "config.json") throws -> String {
            let p = sub(c, file)
            guard fm.fileExists(atPath: p) else { throw CheckpointError.missingFile(path: p, what: "(the \(c) component's config)") }
            return p
        }
        var unet = try UNetConfig(contentsOf: config("unet"))
        let vae = try VAEConfig(contentsOf: config("vae"))
        let textConfigPath = try config("text_encoder")
        let text = try CLIPTextConfig(contentsOf: textConfigPath)
        var eos: Int?
        if case .object(let o) = try JSONValue.read(textConfigPath), case .number(let id)? = o["eos_token_id"], id != 2 { eos = Int(id) }
        var scheduler = try SchedulerConfig(contentsOf: config("scheduler", "scheduler_config.json"))
        if let p = options.predictionType { scheduler.predictionType = p }
        if let u = options.upcastAttention { unet.upcastAttention = u }
        var components: [CheckpointComponent: CheckpointWeights] = [:]
        for c in CheckpointComponent.allCases {
            components[c] = try DiffusersFolder.component(c, in: folder, variant: options.variant)
        }
        // vocab.json + merges.txt as diffusers ships SD, or tokenizer.json alone as transformers 5 saves it.
        let tokenizer = ["vocab.json", "tokenizer.json"].contains { fm.fileExists(atPath: sub("tokenizer", $0)) } ? sub("tokenizer") : nil
        return StableDiffusionCheckpoint(path: folder, format: .diffusersFolder, unet: unet, vae: vae, text: text,
                                         scheduler: scheduler, tokenizer: tokenizer, endOfText: eos, components: components)
    }

    /// A PyTorch pickle by content, whatever its name: a zip archive (torch.save since 1.6) or
    /// a raw pickle stream (protocol 2+ starts with 0x80).
    static func looksLikePickle(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        let head = [UInt8](h.readData(ofLength: 4))
        return head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || (head.first == 0x80 && (2...5).contains(head.count > 1 ? head[1] : 0))
    }
}
