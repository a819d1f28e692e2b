// A diffusers pipeline folder: model_index.json and one subfolder per component, each with its
// config and its weights, as diffusers' save_pretrained and the Hub releases lay them out:
//
//   unet/config.json          unet/diffusion_pytorch_model[.<variant>].safetensors
//   vae/config.json           vae/diffusion_pytorch_model[.<variant>].safetensors
//   text_encoder/config.json  text_encoder/model[.<variant>].safetensors
//   tokenizer/                vocab.json, merges.txt, …
//   scheduler/scheduler_config.json
//
// Large weights may be sharded: `<weights>.safetensors.index.json` (or, with a variant,
// diffusers' `<weights>.safetensors.index.<variant>.json` and the older
// `<weights>.<variant>.safetensors.index.json`) maps each tensor to its shard.
import Foundation

enum DiffusersFolder {
    static let pickleExtensions = ["ckpt", "pt", "pth", "bin", "pkl", "pickle"]

    /// The pipeline class, refusing the pipelines this code does not build.
    static func checkModelIndex(_ folder: String) throws {
        let path = (folder as NSString).appendingPathComponent("model_index.json")
        var r = try ConfigReader(path: path)
        let cls = try r.string("_class_name", default: "StableDiffusionPipeline")
        if cls.contains("XL") || r.has("text_encoder_2") {
            throw CheckpointError.unsupportedConfig(path: path, key: "_class_name", value: "\"\(cls)\"", reason: "SDXL is not supported yet")
        }
        for key in ["unet", "vae", "text_encoder", "scheduler"] where !r.has(key) {
            throw CheckpointError.missingFile(path: path, what: "the \"\(key)\" component (expected a Stable Diffusion 1.x/2.x pipeline, found \(cls))")
        }
    }

    /// The weight files of one component: `base` is "diffusion_pytorch_model" or "model".
    static func weights(in dir: String, base: String, variant: String?) throws -> TensorFiles {
        let fm = FileManager.default
        func at(_ name: String) -> String? {
            let p = (dir as NSString).appendingPathComponent(name)
            return fm.fileExists(atPath: p) ? p : nil
        }
        func load(_ v: String?) throws -> TensorFiles? {
            let single = v.map { "\(base).\($0).safetensors" } ?? "\(base).safetensors"
            if let p = at(single) { return try TensorFiles(path: p) }
            let indexes = v.map { ["\(base).safetensors.index.\($0).json", "\(base).\($0).safetensors.index.json"] } ?? ["\(base).safetensors.index.json"]
            for name in indexes { if let p = at(name) { return try TensorFiles(index: p) } }
            return nil
        }
        if let variant, let files = try load(variant) { return files }
        if let files = try load(nil) { return files }
        // Only variant files (e.g. a fp16-only download): use the one there is.
        let listing = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
        let variants = Set(listing.compactMap { f -> String? in
            guard let rest = f.dropPrefix(base + "."), rest.hasSuffix(".safetensors") || rest.hasSuffix(".json") else { return nil }
            let parts = rest.split(separator: ".")
            if parts.count == 2, parts[1] == "safetensors" {
                // model.fp16.safetensors, or a shard model.fp16-00001-of-00004.safetensors
                return parts[0].contains("-of-") ? parts[0].components(separatedBy: "-").first : String(parts[0])
            }
            if parts.count == 4, parts[0] == "safetensors", parts[1] == "index" { return String(parts[2]) }  // .safetensors.index.fp16.json
            if parts.count == 4, parts[1] == "safetensors", parts[2] == "index" { return String(parts[0]) }  // .fp16.safetensors.index.json
            return nil
        })
        if variants.count == 1, let files = try load(variants.first!) { return files }
        if variants.count > 1 {
            throw CheckpointError.missingFile(path: (dir as NSString).appendingPathComponent("\(base).safetensors"),
                                              what: "(the folder has the variants \(variants.sorted().joined(separator: ", ")); choose one with the variant option)")
        }
        if let pickle = listing.sorted().first(where: { f in pickleExtensions.contains((f as NSString).pathExtension) }) {
            throw CheckpointError.pickleRefused(path: (dir as NSString).appendingPathComponent(pickle))
        }
        throw CheckpointError.missingFile(path: (dir as NSString).appendingPathComponent("\(base).safetensors"), what: "(the component's weights)")
    }

    /// One component's weights under the names the models use.
    static func component(_ c: CheckpointComponent, in folder: String, variant: String?) throws -> CheckpointWeights {
        let dir = (folder as NSString).appendingPathComponent(c.rawValue)
        let files = try weights(in: dir, base: c == .textEncoder ? "model" : "diffusion_pytorch_model", variant: variant)
        var recipes: [String: CheckpointWeights.Recipe] = [:]
        for (stored, t) in files.tensors {
            if c == .textEncoder, stored.hasSuffix("embeddings.position_ids") { continue }   // an index buffer
            let name = CheckpointNames.diffusersName(stored, component: c)
            if recipes[name] != nil {
                throw CheckpointError.notACheckpoint(path: t.file.path, reason: "tensors \(stored) and \(recipes[name]!.stored.name) are the same parameter \(name)")
            }
            recipes[name] = .init(stored: t)
        }
        return CheckpointWeights(component: c, recipes: recipes)
    }
}
