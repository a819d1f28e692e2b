import Foundation

/// LoRA files in the diffusers/PEFT convention, the `pytorch_lora_weights.safetensors` that
/// `StableDiffusionPipeline.load_lora_weights` loads:
///
///     unet.<module>.lora_A.weight           [r, in(, kh, kw)]   (down)
///     unet.<module>.lora_B.weight           [out, r(, 1, 1)]    (up)
///     text_encoder.text_model.<module>.lora_A.weight / lora_B.weight
///     __metadata__: format = pt, lora_adapter_metadata = JSON of each component's LoraConfig
///                   ("unet.r", "unet.lora_alpha", "unet.rank_pattern", "unet.alpha_pattern", …)
///
/// PEFT stores no alpha tensors: the scale alpha/r comes from the config. diffusers reads the
/// config from `lora_adapter_metadata` (and, without it, uses alpha = r: scale 1), so that is
/// where alpha goes. Older files written by diffusers are accepted on read:
/// `<module>.lora.down.weight`/`.lora.up.weight`, `<module>.lora_linear_layer.down/up.weight`,
/// the attention-processor form `<attn>.processor.to_q_lora.down.weight`, keys without the
/// `unet.` prefix, and `<module>.alpha` scalars.
public enum DiffusersLoRAFormat {
    public static let metadataKey = "lora_adapter_metadata"

    static let expectedKeys = "'unet.<module>.lora_A.weight' / '.lora_B.weight' or 'text_encoder.<module>…' (diffusers/PEFT LoRA)"

    // MARK: Reading

    public static func read(path: String) throws -> LoRAAdapter {
        try read(try SafeTensorsFile(path: path))
    }

    public static func read(_ file: SafeTensorsFile) throws -> LoRAAdapter {
        let path = file.path
        var downs: [LoRAModule: String] = [:], ups: [LoRAModule: String] = [:], alphaKeys: [LoRAModule: String] = [:]
        for key in file.names {
            guard let (module, role) = try parse(key: key, path: path) else {
                throw AdapterError.unrecognisedKey(path: path, key: key, expected: expectedKeys)
            }
            var table: [LoRAModule: String]
            switch role {
            case .down: table = downs
            case .up: table = ups
            case .alpha: table = alphaKeys
            }
            if let other = table[module] {
                throw AdapterError.inconsistent(path: path, key: key, reason: "names the same module \(module) as '\(other)'")
            }
            table[module] = key
            switch role {
            case .down: downs = table
            case .up: ups = table
            case .alpha: alphaKeys = table
            }
        }
        guard !downs.isEmpty || !ups.isEmpty else { throw AdapterError.empty(path: path, expected: expectedKeys) }
        let config = try AdapterConfigs(metadata: file.metadata, path: path)
        var pairs: [LoRAModule: LoRAPair] = [:]
        for (module, downKey) in downs {
            guard let upKey = ups[module] else {
                throw AdapterError.inconsistent(path: path, key: downKey, reason: "has no matching up (lora_B) tensor")
            }
            let alpha: Float?
            if let alphaKey = alphaKeys[module] { alpha = try readScalar(file, alphaKey) } else { alpha = nil }
            pairs[module] = try readPair(file, downKey: downKey, upKey: upKey) { rank in
                alpha ?? config.alpha(for: module, rank: rank)
            }
        }
        for (module, upKey) in ups where downs[module] == nil {
            throw AdapterError.inconsistent(path: path, key: upKey, reason: "has no matching down (lora_A) tensor for \(module)")
        }
        for (module, key) in alphaKeys where downs[module] == nil {
            throw AdapterError.inconsistent(path: path, key: key, reason: "an alpha for \(module), which has no LoRA pair")
        }
        return LoRAAdapter(pairs: pairs, metadata: file.metadata)
    }

    enum Role { case down, up, alpha }

    /// The module and role a key names, nil when it is not a LoRA key in this convention.
    static func parse(key: String, path: String) throws -> (LoRAModule, Role)? {
        var rest = key
        var component: LoRAComponent
        if rest.hasPrefix("unet.") {
            component = .unet; rest.removeFirst("unet.".count)
        } else if rest.hasPrefix("text_encoder_2.") {
            throw AdapterError.unsupported(path: path, what: "tensor '\(key)' is for a second text encoder (SDXL); SDXL LoRAs are not supported yet")
        } else if rest.hasPrefix("text_encoder.") {
            component = .textEncoder; rest.removeFirst("text_encoder.".count)
        } else if rest.hasPrefix("down_blocks.") || rest.hasPrefix("mid_block.") || rest.hasPrefix("up_blocks.") {
            component = .unet   // the oldest diffusers files: UNet attention processors, no prefix
        } else {
            return nil
        }
        if rest.contains("lora_magnitude_vector") || rest.hasSuffix(".dora_scale") {
            throw AdapterError.unsupported(path: path, what: "tensor '\(key)' belongs to a DoRA adapter; only plain LoRA is supported")
        }
        let suffixes: [(String, Role)] = [
            (".lora_A.weight", .down), (".lora_B.weight", .up),
            (".lora.down.weight", .down), (".lora.up.weight", .up),
            (".lora_linear_layer.down.weight", .down), (".lora_linear_layer.up.weight", .up),
            (".alpha", .alpha),
        ]
        for (suffix, role) in suffixes where rest.hasSuffix(suffix) {
            let module = String(rest.dropLast(suffix.count))
            guard !module.isEmpty else { return nil }
            return (LoRAModule(component, module), role)
        }
        // Attention-processor form: `<attn>.processor.to_q_lora.down.weight` (UNet) or
        // `<self_attn>.to_q_lora.down.weight` (text encoder), the projection named by its processor slot.
        for (slot, role) in [(".down.weight", Role.down), (".up.weight", Role.up)] where rest.hasSuffix(slot) {
            let stem = rest.dropLast(slot.count)
            guard let dot = stem.lastIndex(of: ".") else { return nil }
            let owner = String(stem[..<dot]), name = String(stem[stem.index(after: dot)...])
            let unetNames = ["to_q_lora": "to_q", "to_k_lora": "to_k", "to_v_lora": "to_v", "to_out_lora": "to_out.0"]
            let textNames = ["to_q_lora": "q_proj", "to_k_lora": "k_proj", "to_v_lora": "v_proj", "to_out_lora": "out_proj"]
            guard let projection = (component == .unet ? unetNames : textNames)[name] else { return nil }
            let attention = owner.hasSuffix(".processor") ? String(owner.dropLast(".processor".count)) : owner
            return (LoRAModule(component, attention + "." + projection), role)
        }
        return nil
    }

    // MARK: Writing

    /// The file's tensors and metadata. Text-encoder keys carry `text_model.`, which both
    /// transformers 4 and 5 (through diffusers 0.42) load; the adapter config's module patterns
    /// are written without it, so they match either model layout as suffixes.
    public static func writer(for adapter: LoRAAdapter, dtype: SafeTensorsDType = .f32) throws -> SafeTensorsWriter {
        guard !adapter.pairs.isEmpty else { throw AdapterError.cannotWrite(reason: "the LoRA has no modules") }
        var metadata = adapter.metadata
        metadata["format"] = "pt"
        metadata[metadataKey] = try AdapterConfigs.json(for: adapter)
        var writer = SafeTensorsWriter(metadata: metadata)
        for module in adapter.modules {
            let pair = adapter.pairs[module]!
            let stem = "\(module.component.rawValue).\(module.path)"
            writer.add(stem + ".lora_A.weight", shape: pair.downShape, values: pair.down, dtype: dtype)
            writer.add(stem + ".lora_B.weight", shape: pair.upShape, values: pair.up, dtype: dtype)
        }
        return writer
    }

    public static func write(_ adapter: LoRAAdapter, to path: String, dtype: SafeTensorsDType = .f32) throws {
        try writer(for: adapter, dtype: dtype).write(to: path)
    }
}

// MARK: - Shared tensor helpers

func readScalar(_ file: SafeTensorsFile, _ key: String) throws -> Float {
    let entry = try file.entry(key)
    guard entry.elementCount == 1 else {
        throw AdapterError.inconsistent(path: file.path, key: key, reason: "alpha has shape \(entry.shape); expected a single value")
    }
    return try file.floats(key)[0]
}

/// Reads a down/up pair, checking the shapes fit [r, in…] / [out, r(, 1, 1)].
func readPair(_ file: SafeTensorsFile, downKey: String, upKey: String, alpha: (Int) throws -> Float) throws -> LoRAPair {
    let down = try file.entry(downKey), up = try file.entry(upKey)
    guard down.shape.count == 2 || down.shape.count == 4 else {
        throw AdapterError.inconsistent(path: file.path, key: downKey, reason: "shape \(down.shape); expected [rank, in] or [rank, in, kh, kw]")
    }
    guard up.shape.count == down.shape.count, up.shape[1] == down.shape[0], up.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
        throw AdapterError.inconsistent(path: file.path, key: upKey, reason: "shape \(up.shape) does not fit its down tensor '\(downKey)' of shape \(down.shape); expected [out, \(down.shape[0])\(down.shape.count == 4 ? ", 1, 1" : "")]")
    }
    guard down.shape[0] > 0 else { throw AdapterError.inconsistent(path: file.path, key: downKey, reason: "rank 0") }
    return LoRAPair(downShape: down.shape, down: try file.floats(downKey), upShape: up.shape, up: try file.floats(upKey),
                    alpha: try alpha(down.shape[0]))
}
