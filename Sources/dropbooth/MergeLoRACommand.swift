import ArgumentParser
import Diffusion
import Foundation
import ModelIO

/// `dropbooth merge-lora A.safetensors:0.8 B.safetensors:0.5 --out C.safetensors`: several LoRAs,
/// each at its weight, as one file (seed 003 merges a subject with a style this way).
///
/// The merge is exact: the result's ΔW for every layer is the weighted sum of the inputs' ΔW,
/// because the low-rank factors are concatenated (ranks add up) rather than averaged
/// (`LoRAAdapter.merging`). Inputs may be in either convention and of different ranks; a layer
/// only one input adapts is kept as it is, at that input's weight.
///
/// Kohya files name layers with "_" for ".", which only the base model's layer list can undo:
/// without `--model`, layers are matched by their kohya names, which is enough to merge kohya
/// files into a kohya file, and diffusers files with them (their names are known).
struct MergeLoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-lora",
        abstract: "Merge LoRA files, each at a weight, into one LoRA (exact: ranks are concatenated).",
        discussion: "Example: dropbooth merge-lora subject.safetensors:0.8 style.safetensors:0.5 --out both.safetensors --format kohya"
    )

    @Argument(help: "LoRA files, each optionally with a weight: FILE[:WEIGHT] (default weight 1).")
    var inputs: [String]

    @Option(name: .long, help: "The merged LoRA file to write (.safetensors).")
    var out: String

    @Option(name: .long, help: "diffusers (PEFT keys, pytorch_lora_weights.safetensors) or kohya (A1111, ComfyUI). Default: the first input's.")
    var format: String?

    @Option(name: .long, help: "The base model (diffusers folder or .safetensors): its layer names, to read kohya files exactly and write them as diffusers.")
    var model: String?

    @Flag(name: .long, help: "Store float16 instead of float32.")
    var half = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one LoRA file to merge") }
        if let format, !["diffusers", "kohya"].contains(format) {
            throw ValidationError("--format \(format): expected diffusers or kohya")
        }
        guard out.hasSuffix(".safetensors") else { throw ValidationError("--out \(out): the merged file must end in .safetensors") }
    }

    func run() throws {
        let sources = try inputs.map(Self.parseInput)
        let layers: (unet: [String], textEncoder: [String])? = try model.map(Self.moduleNames)
        var read: [(source: Source, adapter: LoRAAdapter, isKohya: Bool)] = []
        for source in sources {
            do {
                let file = try SafeTensorsFile(path: source.path)
                let isKohya = KohyaLoRAFormat.looksLikeKohya(file)
                let adapter = isKohya
                    ? try Self.kohyaReader(for: file, modelLayers: layers).read(file)
                    : try DiffusersLoRAFormat.read(file)
                read.append((source, adapter, isKohya))
            } catch {
                Self.fail("\(source.path): \(error)")
            }
        }

        // One identity per layer across conventions: its kohya name, mapped back to the dotted
        // diffusers path wherever one is known (a diffusers input, or the model's layer list).
        var dotted: [String: LoRAModule] = [:]
        for (_, adapter, isKohya) in read where !isKohya || layers != nil {
            for module in adapter.pairs.keys { dotted[KohyaLoRAFormat.name(of: module)] = module }
        }
        let parts = read.map { entry -> (adapter: LoRAAdapter, weight: Float) in
            var pairs: [LoRAModule: LoRAPair] = [:]
            for (module, pair) in entry.adapter.pairs { pairs[dotted[KohyaLoRAFormat.name(of: module)] ?? module] = pair }
            return (LoRAAdapter(pairs: pairs), Float(entry.source.weight))
        }
        var merged: LoRAAdapter
        do { merged = try LoRAAdapter.merging(parts) } catch { Self.fail("\(error)") }
        merged.metadata = Self.metadata(read.map { ($0.source, $0.adapter) })

        let format = self.format ?? (read[0].isKohya ? "kohya" : "diffusers")
        if format == "diffusers", let unmapped = merged.modules.first(where: { dotted[KohyaLoRAFormat.name(of: $0)] == nil }) {
            Self.fail("layer \(KohyaLoRAFormat.name(of: unmapped)) comes from a kohya file, whose names cannot be turned back into diffusers' dotted ones without the model: give --model BASE, or write --format kohya")
        }
        let dtype: SafeTensorsDType = half ? .f16 : .f32
        do {
            if format == "kohya" { try KohyaLoRAFormat.write(merged, to: out, dtype: dtype) } else { try DiffusersLoRAFormat.write(merged, to: out, dtype: dtype) }
        } catch {
            Self.fail("\(out): \(error)")
        }
        let ranks = merged.pairs.values.map(\.rank)
        print("wrote \(out) (\(format)): \(merged.pairs.count) layers, rank \(ranks.min() ?? 0)–\(ranks.max() ?? 0), from "
              + sources.map { "\(($0.path as NSString).lastPathComponent) × \($0.weight)" }.joined(separator: ", "))
    }

    struct Source {
        var path: String
        /// As typed (a Double, so that the metadata says 0.8 and not 0.800000011920929).
        var weight: Double
    }

    /// "FILE[:WEIGHT]"; a colon not followed by a number is part of the file name.
    static func parseInput(_ spec: String) throws -> Source {
        let (path, weight) = splitAdapterSpec(spec)
        let source = Source(path: path, weight: weight ?? 1)
        guard source.weight.isFinite else { throw ValidationError("\(spec): the weight must be a finite number") }
        guard FileManager.default.fileExists(atPath: source.path) else { throw ValidationError("\(spec): no such file \(source.path)") }
        return source
    }

    /// Every weight's module path in the model (the kohya reader only uses those a file names).
    static func moduleNames(_ path: String) throws -> (unet: [String], textEncoder: [String]) {
        let checkpoint: StableDiffusionCheckpoint
        do { checkpoint = try StableDiffusionCheckpoint.open(path) } catch { fail("--model \(path): \(error)") }
        func modules(_ weights: CheckpointWeights) -> [String] {
            weights.tensorNames.filter { $0.hasSuffix(".weight") }.map { String($0.dropLast(".weight".count)) }
        }
        return (modules(checkpoint.unetWeights), modules(checkpoint.textEncoderWeights))
    }

    /// A kohya reader that knows the model's layers, or, without them, the file's own layer
    /// names taken as paths (so that writing kohya again gives the same names).
    static func kohyaReader(for file: SafeTensorsFile, modelLayers: (unet: [String], textEncoder: [String])?) -> KohyaLoRAFormat {
        if let modelLayers { return KohyaLoRAFormat(unetModules: modelLayers.unet, textEncoderModules: modelLayers.textEncoder) }
        var unet = Set<String>(), text = Set<String>()
        for key in file.names {
            let name = String(key.prefix { $0 != "." })
            if let path = name.dropPrefix(KohyaLoRAFormat.unetPrefix) {
                unet.insert(path)
            } else if let path = name.dropPrefix(KohyaLoRAFormat.textEncoderPrefix) {
                // `LoRAModule` roots text-encoder paths at "text_model."; kohya spells it "text_model_".
                text.insert(path.dropPrefix("text_model_").map { "text_model." + $0 } ?? path)
            }
        }
        return KohyaLoRAFormat(unetModules: unet.sorted(), textEncoderModules: text.sorted())
    }

    /// What the merged file says about itself: its sources and weights (dropbooth.merge, JSON),
    /// and the base model fields the inputs agree on, so the web UIs still show them.
    static func metadata(_ inputs: [(source: Source, adapter: LoRAAdapter)]) -> [String: String] {
        var fields: [String: String] = [:]
        let shared = [DropboothAdapterInfo.prefix + "base_model", LoRAMetadata.modelName, LoRAMetadata.baseModelVersion, LoRAMetadata.isV2]
        for key in shared {
            let values = Set(inputs.map { $0.adapter.metadata[key] })
            if values.count == 1, let value = values.first!, !value.isEmpty { fields[key] = value }
        }
        let list: [[String: Any]] = inputs.map { input in
            var entry: [String: Any] = ["file": (input.source.path as NSString).lastPathComponent, "weight": input.source.weight,
                                        "layers": input.adapter.pairs.count]
            if let rank = input.adapter.dominantRank { entry["rank"] = rank }
            if let base = input.adapter.metadata[DropboothAdapterInfo.prefix + "base_model"] { entry["base_model"] = base }
            if let fingerprint = input.adapter.metadata[DropboothAdapterInfo.prefix + "recipe_fingerprint"] { entry["recipe_fingerprint"] = fingerprint }
            return entry
        }
        if let data = try? JSONSerialization.data(withJSONObject: list, options: [.sortedKeys]) {
            fields[DropboothAdapterInfo.prefix + "merge"] = String(decoding: data, as: UTF8.self)
        }
        fields[DropboothAdapterInfo.prefix + "method"] = "lora_merge"
        return fields
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
        Foundation.exit(1)
    }
}

private extension String {
    func dropPrefix(_ prefix: String) -> String? { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil }
}
