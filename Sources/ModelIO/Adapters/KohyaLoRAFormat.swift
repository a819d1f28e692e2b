/// LoRA files in kohya's convention (sd-scripts networks/lora.py), the one A1111 and ComfyUI read:
///
///     lora_unet_<module path with "_" for ".">.lora_down.weight   [r, in(, kh, kw)]
///     lora_unet_<…>.lora_up.weight                                [out, r(, 1, 1)]
///     lora_unet_<…>.alpha                                         scalar (scale = alpha / r)
///     lora_te_<text encoder path from CLIPTextModel's root, "text_model_…">.…
///     __metadata__: ss_network_module, ss_network_dim, ss_network_alpha, ss_base_model_version, …
///
/// Turning "_" back into "." is ambiguous ("transformer_blocks", "to_out_0"), so reading maps the
/// names through the model's own module list, given by the caller. Module paths are diffusers'
/// UNet names; files whose UNet names follow the original LDM layout
/// (`lora_unet_input_blocks_…`) and SDXL files (`lora_te1_`, `lora_te2_`) are refused by name.
public struct KohyaLoRAFormat {
    public static let unetPrefix = "lora_unet_"
    public static let textEncoderPrefix = "lora_te_"

    static let expectedKeys = "'lora_unet_<module>.lora_down.weight' / '.lora_up.weight' / '.alpha' or 'lora_te_<module>…' (kohya LoRA)"

    /// The kohya name of a module: prefix + path with dots as underscores.
    public static func name(of module: LoRAModule) -> String {
        (module.component == .unet ? unetPrefix : textEncoderPrefix) + module.path.replacingOccurrences(of: ".", with: "_")
    }

    /// Kohya name → module, for every module the model has.
    let modulesByName: [String: LoRAModule]
    /// Kohya names that two module paths share; a file using one cannot be mapped.
    let ambiguousNames: [String: [LoRAModule]]

    /// - Parameters: the model's module paths, e.g. every Linear/Conv2d name of the UNet
    ///   ("down_blocks.0.attentions.0.proj_in", …) and of the text encoder (with or without `text_model.`).
    public init(unetModules: [String], textEncoderModules: [String]) {
        var byName: [String: LoRAModule] = [:], clashes: [String: [LoRAModule]] = [:]
        let modules = unetModules.map { LoRAModule(.unet, $0) } + textEncoderModules.map { LoRAModule(.textEncoder, $0) }
        for module in modules {
            let name = Self.name(of: module)
            if let other = byName[name], other != module { clashes[name, default: [other]].append(module) }
            byName[name] = module
        }
        modulesByName = byName
        ambiguousNames = clashes
    }

    /// Whether a file's keys are in kohya's naming (used to choose a reader).
    public static func looksLikeKohya(_ file: SafeTensorsFile) -> Bool {
        file.names.contains { $0.hasPrefix("lora_unet_") || $0.hasPrefix("lora_te") }
    }

    // MARK: Reading

    public func read(path: String) throws -> LoRAAdapter { try read(try SafeTensorsFile(path: path)) }

    public func read(_ file: SafeTensorsFile) throws -> LoRAAdapter {
        let path = file.path
        var downs: [LoRAModule: String] = [:], ups: [LoRAModule: String] = [:], alphas: [LoRAModule: String] = [:]
        for key in file.names {
            guard let dot = key.firstIndex(of: ".") else {
                throw AdapterError.unrecognisedKey(path: path, key: key, expected: Self.expectedKeys)
            }
            let name = String(key[..<dot]), role = String(key[key.index(after: dot)...])
            let module = try self.module(named: name, key: key, path: path)
            switch role {
            case "lora_down.weight": downs[module] = key
            case "lora_up.weight": ups[module] = key
            case "alpha": alphas[module] = key
            case "dora_scale":
                throw AdapterError.unsupported(path: path, what: "tensor '\(key)' belongs to a DoRA adapter; only plain LoRA is supported")
            case _ where role.hasPrefix("hada_") || role.hasPrefix("lokr_") || role.hasPrefix("oft_") || role.hasPrefix("lora_mid") || role.hasPrefix("ia3"):
                throw AdapterError.unsupported(path: path, what: "tensor '\(key)' belongs to a LyCORIS adapter (LoHa/LoKr/OFT/IA³/LoCon-mid); only plain LoRA is supported")
            default:
                throw AdapterError.unrecognisedKey(path: path, key: key, expected: "'\(name).lora_down.weight', '.lora_up.weight' or '.alpha'")
            }
        }
        guard !downs.isEmpty || !ups.isEmpty else { throw AdapterError.empty(path: path, expected: Self.expectedKeys) }
        var pairs: [LoRAModule: LoRAPair] = [:]
        for (module, downKey) in downs {
            guard let upKey = ups[module] else {
                throw AdapterError.inconsistent(path: path, key: downKey, reason: "has no matching '.lora_up.weight'")
            }
            let alpha = try alphas[module].map { try readScalar(file, $0) }
            // Kohya's rule: no alpha (or 0) means alpha = rank, scale 1.
            pairs[module] = try readPair(file, downKey: downKey, upKey: upKey) { rank in
                if let alpha, alpha != 0 { return alpha } else { return Float(rank) }
            }
        }
        for (module, key) in ups where downs[module] == nil {
            throw AdapterError.inconsistent(path: path, key: key, reason: "has no matching '.lora_down.weight'")
        }
        for (module, key) in alphas where downs[module] == nil {
            throw AdapterError.inconsistent(path: path, key: key, reason: "an alpha for \(module), which has no LoRA pair")
        }
        return LoRAAdapter(pairs: pairs, metadata: file.metadata)
    }

    func module(named name: String, key: String, path: String) throws -> LoRAModule {
        if name.hasPrefix("lora_te1_") || name.hasPrefix("lora_te2_") {
            throw AdapterError.unsupported(path: path, what: "tensor '\(key)' is for one of two text encoders (SDXL); SDXL LoRAs are not supported yet")
        }
        for ldm in ["input_blocks_", "middle_block_", "output_blocks_", "out_", "time_embed_"] where name.hasPrefix(Self.unetPrefix + ldm) {
            throw AdapterError.unsupported(path: path, what: "tensor '\(key)' names the UNet in the original LDM layout (lora_unet_\(ldm)…); only kohya files with diffusers UNet names (lora_unet_down_blocks_…) are supported")
        }
        if let clash = ambiguousNames[name] {
            throw AdapterError.inconsistent(path: path, key: key, reason: "'\(name)' could be any of \(clash.map(\.description).joined(separator: ", "))")
        }
        if let module = modulesByName[name] { return module }
        if name.hasPrefix(Self.unetPrefix) || name.hasPrefix(Self.textEncoderPrefix) {
            let part = name.hasPrefix(Self.unetPrefix) ? "UNet" : "text encoder"
            throw AdapterError.unrecognisedKey(path: path, key: key, expected: "a module of this model's \(part) (no module path maps to '\(name)'; is the LoRA for a different model?)")
        }
        throw AdapterError.unrecognisedKey(path: path, key: key, expected: Self.expectedKeys)
    }

    // MARK: Writing

    /// The file's tensors (down, up, alpha per module) and metadata (the adapter's, plus the
    /// kohya fields derived from it when absent).
    public static func writer(for adapter: LoRAAdapter, dtype: SafeTensorsDType = .f32) throws -> SafeTensorsWriter {
        guard !adapter.pairs.isEmpty else { throw AdapterError.cannotWrite(reason: "the LoRA has no modules") }
        var metadata = LoRAMetadata.kohyaFields(for: adapter)
        metadata.merge(adapter.metadata) { _, given in given }
        // A diffusers config read from another file must not travel: diffusers refuses a kohya
        // file that has both alpha tensors and `lora_adapter_metadata`.
        metadata.removeValue(forKey: DiffusersLoRAFormat.metadataKey)
        var writer = SafeTensorsWriter(metadata: metadata)
        var seen: [String: LoRAModule] = [:]
        for module in adapter.modules {
            let pair = adapter.pairs[module]!
            let name = Self.name(of: module)
            if let other = seen[name] {
                throw AdapterError.cannotWrite(reason: "\(module) and \(other) have the same kohya name '\(name)'")
            }
            seen[name] = module
            writer.add(name + ".lora_down.weight", shape: pair.downShape, values: pair.down, dtype: dtype)
            writer.add(name + ".lora_up.weight", shape: pair.upShape, values: pair.up, dtype: dtype)
            writer.add(name + ".alpha", shape: [], values: [pair.alpha], dtype: dtype)
        }
        return writer
    }

    public static func write(_ adapter: LoRAAdapter, to path: String, dtype: SafeTensorsDType = .f32) throws {
        try writer(for: adapter, dtype: dtype).write(to: path)
    }
}
