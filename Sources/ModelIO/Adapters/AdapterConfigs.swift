import Foundation

/// The per-component PEFT LoraConfig that diffusers stores as JSON in a LoRA file's
/// `lora_adapter_metadata` (keys "<component>.<field>"), reduced to what sets each module's scale:
/// r, lora_alpha, rank_pattern, alpha_pattern and use_rslora.
struct AdapterConfigs {
    struct Config {
        var alpha: Float?
        var alphaPattern: [String: Float] = [:]
        var rsLoRA = false
    }

    var configs: [LoRAComponent: Config] = [:]

    init(metadata: [String: String], path: String) throws {
        guard let raw = metadata[DiffusersLoRAFormat.metadataKey] else { return }
        guard let json = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any] else {
            throw AdapterError.unsupported(path: path, what: "metadata '\(DiffusersLoRAFormat.metadataKey)' is not a JSON object")
        }
        for component in LoRAComponent.allCases {
            let prefix = component.rawValue + "."
            let fields = json.filter { $0.key.hasPrefix(prefix) }
            guard !fields.isEmpty else { continue }
            func field(_ name: String) -> Any? { fields[prefix + name].flatMap { $0 is NSNull ? nil : $0 } }
            if (field("use_dora") as? Bool) == true {
                throw AdapterError.unsupported(path: path, what: "metadata says the \(component.rawValue) adapter is DoRA (use_dora); only plain LoRA is supported")
            }
            if let type = field("peft_type") as? String, type != "LORA" {
                throw AdapterError.unsupported(path: path, what: "metadata says the \(component.rawValue) adapter is \(type); only LORA is supported")
            }
            var config = Config()
            config.alpha = (field("lora_alpha") as? NSNumber)?.floatValue
            for (key, value) in field("alpha_pattern") as? [String: Any] ?? [:] {
                guard let number = value as? NSNumber else {
                    throw AdapterError.unsupported(path: path, what: "metadata \(prefix)alpha_pattern['\(key)'] is not a number")
                }
                config.alphaPattern[key] = number.floatValue
            }
            config.rsLoRA = (field("use_rslora") as? Bool) ?? false
            configs[component] = config
        }
    }

    /// The alpha such that alpha / rank is the scale PEFT applies to this module.
    func alpha(for module: LoRAModule, rank: Int) -> Float {
        guard let config = configs[module.component] else { return Float(rank) }   // diffusers: scale 1
        let base = Self.patternValue(config.alphaPattern, for: module) ?? config.alpha ?? Float(rank)
        // rsLoRA scales by alpha/√r; as alpha/r that is alpha·√r.
        return config.rsLoRA ? base * Float(rank).squareRoot() : base
    }

    /// PEFT matches pattern keys against the end of the module path at a dot boundary; a leading
    /// "^" (diffusers writes it) anchors at the start. Text-encoder keys may or may not carry `text_model.`.
    static func patternValue<V>(_ pattern: [String: V], for module: LoRAModule) -> V? {
        var candidates = [module.path]
        if module.component == .textEncoder { candidates.append(String(module.path.dropFirst("text_model.".count))) }
        for (key, value) in pattern {
            let anchored = key.hasPrefix("^")
            let k = anchored ? String(key.dropFirst()) : key
            if candidates.contains(where: { $0 == k || (!anchored && $0.hasSuffix("." + k)) }) { return value }
        }
        return nil
    }

    /// The JSON diffusers would write for this adapter: the most common rank and alpha per
    /// component, the other modules in rank_pattern / alpha_pattern by full path, and the modules
    /// themselves as target_modules. Text-encoder paths drop `text_model.`: PEFT matches them as
    /// suffixes, so they fit CLIPTextModel with (transformers 4) and without (5) that level.
    static func json(for adapter: LoRAAdapter) throws -> String {
        var object: [String: Any] = [:]
        for component in LoRAComponent.allCases {
            let modules = adapter.modules.filter { $0.component == component }
            guard !modules.isEmpty else { continue }
            let pairs = modules.map { adapter.pairs[$0]! }
            let rank = Int(LoRAAdapter.mostCommon(pairs.map { Float($0.rank) })!)
            let alpha = LoRAAdapter.mostCommon(pairs.map(\.alpha))!
            func configPath(_ m: LoRAModule) -> String {
                component == .textEncoder ? String(m.path.dropFirst("text_model.".count)) : m.path
            }
            var rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:]
            for (module, pair) in zip(modules, pairs) {
                if pair.rank != rank { rankPattern[configPath(module)] = pair.rank }
                if pair.alpha != alpha { alphaPattern[configPath(module)] = Double(pair.alpha) }
            }
            let fields: [String: Any] = [
                "peft_type": "LORA", "r": rank, "lora_alpha": Double(alpha),
                "rank_pattern": rankPattern, "alpha_pattern": alphaPattern,
                "target_modules": modules.map(configPath),
                "use_rslora": false, "use_dora": false, "bias": "none", "lora_dropout": 0.0,
            ]
            for (name, value) in fields { object[component.rawValue + "." + name] = value }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
