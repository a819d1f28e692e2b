import ArgumentParser
import Diffusion
import Foundation
import Imaging
import ModelIO
import Service
import TensorEngine
import Training

/// `dropbooth sample`: txt2img from a base model, optionally with LoRAs and embeddings, one PNG
/// per image and a JPEG grid with each image's prompt and seed under it. With --compare-base the
/// grid has two columns, the base model and the adapted one, from the same prompts and seeds.
///
/// With the default `--rng torch`, a seed gives the image diffusers gives on the CPU with
/// `generator=torch.Generator().manual_seed(seed)` and the same settings.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw images from a model (txt2img), with optional LoRAs and embeddings, and a captioned grid."
    )

    @Option(name: .long, help: "A base model: a registry name from the service config, a diffusers folder or a .safetensors file.")
    var model: String

    @Option(name: .long, help: "A prompt (repeat for several).")
    var prompt: [String]

    @Option(name: .long, help: "What to steer away from (the unconditional side of guidance).")
    var negativePrompt = ""

    @Option(name: .long, help: "Comma-separated seeds, one image per prompt and seed.")
    var seeds = "0"

    @Option(name: .long, help: "Denoising steps.")
    var steps = 25

    @Option(name: .long, help: "ddim, pndm, euler, euler_ancestral or dpmpp_2m.")
    var sampler = "dpmpp_2m"

    @Flag(name: .long, help: "Karras sigma spacing (euler, dpmpp_2m).")
    var karras = false

    @Option(name: .long, help: "Classifier-free guidance scale (1 or less: no guidance).")
    var guidance: Float = 7.5

    @Option(name: .long, help: "Image width in pixels (a multiple of 8).")
    var width = 512

    @Option(name: .long, help: "Image height in pixels (a multiple of 8).")
    var height = 512

    @Option(name: .long, help: "torch (PyTorch's CPU generator: diffusers' images) or native (dropbooth's own).")
    var rng = "torch"

    @Option(name: .long, help: "Start from these latents (.safetensors: the tensor \"latents\" or the only one, [1, 4, h, w] as PyTorch lays it out).")
    var latents: String?

    @Option(name: .long, help: "A LoRA file, optionally with a scale: FILE[:SCALE] (repeatable).")
    var lora: [String] = []

    @Option(name: .long, help: "A textual-inversion embedding file (repeatable).")
    var embedding: [String] = []

    @Flag(name: .long, help: "Also draw every image with the base model alone, side by side with the adapted one.")
    var compareBase = false

    @Option(name: .long, help: "Folder for the images and grid (created if missing).")
    var out: String

    @Option(name: .long, help: "The service config whose model registry resolves --model names.")
    var config: String?

    @Option(name: .long, help: "CLIP's vocab.json and merges.txt, for single-file checkpoints (default: assets/clip).")
    var clipVocabulary: String?

    func run() throws {
        let settings = try validatedSettings()
        let modelPath = try resolveModel()
        let checkpoint: StableDiffusionCheckpoint
        let pipeline: TextToImagePipeline
        do {
            checkpoint = try StableDiffusionCheckpoint.open(modelPath)
            pipeline = try TextToImagePipeline(checkpoint: checkpoint, clipVocabularyFolder: clipVocabularyFolder())
        } catch {
            fail("\(modelPath): \(error)")
        }
        let initial = try latents.map { try readLatents($0, channels: pipeline.unet.config.inChannels, factor: pipeline.vaeScaleFactor) }
        let loras = try lora.map { try parseLoRA($0, unet: pipeline.unet, textEncoder: pipeline.textEncoder) }
        let embeddings = try embedding.map(readEmbedding)
        let adapted = !loras.isEmpty || !embeddings.isEmpty
        if compareBase && !adapted { fail("--compare-base needs a --lora or --embedding to compare with") }
        checkAdaptersFit(loras: loras, embeddings: embeddings, pipeline: pipeline)

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let grid = SampleGrid(prompts: prompt, seeds: settings.seeds, width: width, height: height)
        var request = settings.request
        request.initialLatentsNCHW = initial
        request.negativePrompt = negativePrompt

        func draw(_ label: String, prompts: @escaping (String) -> String) throws -> [RGBImage] {
            try grid.draw(with: pipeline, request: request, prompt: prompts, onImage: { i, image in
                let name = String(format: "%@%03d-seed%llu.png", label.isEmpty ? "" : label + "-", i, grid.cells[i].seed)
                try Data(ImageEncoder.png(image)).write(to: URL(fileURLWithPath: out).appendingPathComponent(name))
                print("wrote \((out as NSString).appendingPathComponent(name))")
            })
        }

        var columns: [SampleGrid.Column] = []
        if compareBase || !adapted {
            columns.append(.init(header: "base: \(model)", images: try draw(adapted ? "base" : "", prompts: { $0 })))
        }
        if adapted {
            var tokenizer = pipeline.tokenizer
            try AdapterApplication.addEmbeddings(embeddings, tokenizer: &tokenizer, textEncoder: pipeline.textEncoder)
            pipeline.tokenizer = tokenizer
            try AdapterApplication.applyLoRAs(loras.map { ($0.name, $0.weights, $0.scale) }, unet: pipeline.unet, textEncoder: pipeline.textEncoder)
            let expand: (String) -> String = { text in embeddings.reduce(text) { $1.expand($0) } }
            let header = (loras.map { "\(($0.name as NSString).lastPathComponent) × \($0.scale)" }
                          + embeddings.map(\.token)).joined(separator: ", ")
            columns.append(.init(header: "with \(header)", images: try draw(compareBase ? "adapted" : "", prompts: expand)))
        }
        let sheet: RGBImage
        do { sheet = try grid.render(columns) } catch { fail("grid: \(error)") }
        let path = (out as NSString).appendingPathComponent("grid.jpg")
        try Data(ImageEncoder.jpeg(sheet, quality: 92)).write(to: URL(fileURLWithPath: path))
        print("wrote \(path)")
    }

    // MARK: inputs

    private struct Settings {
        var request: TextToImageRequest
        var seeds: [UInt64]
    }

    private func validatedSettings() throws -> Settings {
        guard let kind = SamplerKind(rawValue: sampler) else {
            fail("--sampler \(sampler): expected one of \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let source = RandomSourceKind(rawValue: rng) else { fail("--rng \(rng): expected torch or native") }
        let seedList = seeds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = seedList.map { UInt64($0) }
        guard !seedList.isEmpty, parsed.allSatisfy({ $0 != nil }) else {
            fail("--seeds \(seeds): expected comma-separated non-negative integers, e.g. 1,2,3")
        }
        guard !prompt.isEmpty else { fail("--prompt: give at least one") }
        guard steps >= 1 && steps <= 1000 else { fail("--steps \(steps): expected 1 to 1000") }
        guard width > 0, height > 0, width <= 4096, height <= 4096 else { fail("--width/--height \(width)x\(height): expected 1 to 4096") }
        var request = TextToImageRequest(prompt: prompt[0])
        request.steps = steps; request.sampler = kind; request.karras = karras; request.guidance = guidance
        request.width = width; request.height = height; request.rng = source
        return Settings(request: request, seeds: parsed.map { $0! })
    }

    /// A registry name from the service config, else a path.
    private func resolveModel() throws -> String {
        let configPath = config ?? (FileManager.default.fileExists(atPath: ServiceConfig.defaultPath) ? ServiceConfig.defaultPath : nil)
        if let configPath {
            do {
                let serviceConfig = try ServiceConfig.load(path: configPath)
                if let path = serviceConfig.models[model] { return path }
            } catch {
                if config != nil { fail("\(configPath): \(error.description)") }
            }
        }
        guard FileManager.default.fileExists(atPath: model) else {
            fail("--model \(model): not a registry name\(configPath.map { " in \($0)" } ?? " (no service config)") and no such file or folder")
        }
        return model
    }

    private func clipVocabularyFolder() -> URL? {
        if let clipVocabulary { return URL(fileURLWithPath: clipVocabulary) }
        for candidate in ["assets/clip", "/usr/share/dropbooth/clip"] where FileManager.default.fileExists(atPath: candidate + "/vocab.json") {
            return URL(fileURLWithPath: candidate)
        }
        return nil
    }

    /// The starting latents of --latents, checked against --width/--height.
    private func readLatents(_ path: String, channels: Int, factor: Int) throws -> [Float] {
        do {
            let file = try SafeTensorsFile(path: path)
            let name: String
            if file.entries["latents"] != nil { name = "latents" }
            else if file.names.count == 1 { name = file.names[0] }
            else { fail("\(path): no tensor named \"latents\" among \(file.names.count) tensors") }
            let shape = try file.entry(name).shape
            let expected = [1, channels, height / factor, width / factor]
            guard shape == expected else {
                fail("\(path): tensor \"\(name)\" is \(shape); \(width)x\(height) needs \(expected) (batch, channels, height/\(factor), width/\(factor))")
            }
            return try file.floats(name)
        } catch {
            fail("\(path): \(error)")
        }
    }

    /// Fails, naming the file and the layer or token, if an adapter does not fit the model, before
    /// any image is drawn: otherwise the mismatch shows only when the adapted column starts, after
    /// --compare-base has spent minutes on the base one. Attaching validates every layer's shapes;
    /// the model is left without adapters, as the base column needs it.
    private func checkAdaptersFit(loras: [(name: String, weights: LowRankWeights, scale: Float)], embeddings: [TokenEmbeddings],
                                  pipeline: TextToImagePipeline) {
        if !loras.isEmpty {
            do {
                try AdapterApplication.applyLoRAs(loras, unet: pipeline.unet, textEncoder: pipeline.textEncoder)
            } catch { fail("--lora \(error)") }
            AdapterApplication.clear(unet: pipeline.unet, textEncoder: pipeline.textEncoder)
        }
        // Embeddings are added one file at a time to a copy of the tokenizer, so an error names
        // its file; the text encoder's appended rows are put back as they were.
        let appended = pipeline.textEncoder.appendedTokenEmbeddings
        defer { pipeline.textEncoder.appendedTokenEmbeddings = appended }
        var tokenizer = pipeline.tokenizer
        for (path, e) in zip(embedding, embeddings) {
            do {
                try AdapterApplication.addEmbeddings([e], tokenizer: &tokenizer, textEncoder: pipeline.textEncoder)
            } catch { fail("--embedding \(path): \(error)") }
        }
    }

    private func parseLoRA(_ spec: String, unet: UNet2DConditionModel, textEncoder: CLIPTextModel) throws -> (name: String, weights: LowRankWeights, scale: Float) {
        let (path, given) = splitAdapterSpec(spec)
        let scale = Float(given ?? 1)
        guard FileManager.default.fileExists(atPath: path) else { fail("--lora \(spec): no such file \(path)") }
        do { return (path, try AdapterFiles.readLoRA(path: path, unet: unet, textEncoder: textEncoder), scale) } catch { fail("--lora \(path): \(error)") }
    }

    private func readEmbedding(_ path: String) throws -> TokenEmbeddings {
        guard FileManager.default.fileExists(atPath: path) else { fail("--embedding \(path): no such file") }
        do { return try AdapterFiles.readEmbedding(path: path) } catch { fail("--embedding \(path): \(error)") }
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
        Foundation.exit(1)
    }
}


/// The bridge from adapter files (ModelIO's readers: PEFT/diffusers and kohya LoRA keys,
/// diffusers and A1111 embeddings) to what the pipeline applies. Files hold PyTorch layouts;
/// conv factors become the engine's channels-last ones here, the one place that converts them.
enum AdapterFiles {
    static func readLoRA(path: String, unet: UNet2DConditionModel, textEncoder: CLIPTextModel) throws -> LowRankWeights {
        let unetModules = unet.linearLayers.map(\.name) + unet.convLayers.map(\.name)
        let textModules = textEncoder.linearLayers.map { LoRAModule.textEncoderPath($0.name) }
        let adapter = try LoRAAdapter.read(path: path, unetModules: unetModules, textEncoderModules: textModules)
        var weights = LowRankWeights()
        for (module, pair) in adapter.pairs {
            let converted = LowRankWeights.Pair(down: engineLayout(pair.down, shape: pair.downShape),
                                                up: engineLayout(pair.up, shape: pair.upShape), alpha: pair.alpha)
            switch module.component {
            case .unet: weights.unet[module.path] = converted
            // The text encoder names its layers without transformers' `text_model.` root.
            case .textEncoder: weights.textEncoder[String(module.path.dropFirst("text_model.".count))] = converted
            }
        }
        return weights
    }

    static func readEmbedding(path: String) throws -> TokenEmbeddings {
        let e = try TextualInversionEmbedding.read(path: path)
        return TokenEmbeddings(token: e.token, vectors: Tensor(e.vectors, shape: [e.count, e.dimension]))
    }

    /// Linear factors are used as stored; conv factors go from OIHW to [O, KH, KW, I].
    private static func engineLayout(_ values: [Float], shape: [Int]) -> Tensor {
        let t = Tensor(values, shape: shape)
        return shape.count == 4 ? t.permuted([0, 2, 3, 1]) : t
    }
}
