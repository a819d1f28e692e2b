import Foundation

/// What an adapter file says about itself in its safetensors `__metadata__` (string → string).
///
/// Two families: the `ss_…` fields kohya's sd-scripts write, which the web UIs show in their
/// LoRA info panels and use to tell SD1 from SD2/SDXL, and dropbooth's own `dropbooth.…` fields,
/// which say where the file came from (base model, method, steps, the recipe's fingerprint).
public enum LoRAMetadata {
    /// Kohya's field names.
    public static let networkModule = "ss_network_module"
    public static let networkDim = "ss_network_dim"
    public static let networkAlpha = "ss_network_alpha"
    public static let baseModelVersion = "ss_base_model_version"
    public static let isV2 = "ss_v2"
    public static let steps = "ss_steps"
    public static let modelName = "ss_sd_model_name"
    public static let outputName = "ss_output_name"

    /// The kohya fields that follow from the tensors alone: the module type and the most common
    /// rank and alpha (kohya's `network_dim` / `network_alpha`), for an SD 1.x model.
    public static func kohyaFields(for adapter: LoRAAdapter) -> [String: String] {
        var fields = [networkModule: "networks.lora", baseModelVersion: "sd_v1", isV2: "False"]
        if let rank = adapter.dominantRank { fields[networkDim] = String(rank) }
        if let alpha = adapter.dominantAlpha { fields[networkAlpha] = formatNumber(alpha) }
        return fields
    }

    /// Kohya prints alpha as a Python float ("8.0"); integers keep the ".0".
    static func formatNumber(_ x: Float) -> String {
        x == x.rounded() && abs(x) < 1e7 ? String(format: "%.1f", Double(x)) : "\(x)"
    }
}

/// Where an adapter came from, written into its file's metadata by dropbooth (and, where kohya has
/// a field for the same thing, under kohya's name too so the web UIs show it).
public struct DropboothAdapterInfo: Sendable, Equatable {
    /// The base model's registry name or file name, e.g. "sd15".
    public var baseModel: String
    /// "lora", "dreambooth" or "textual_inversion".
    public var method: String
    public var rank: Int?
    public var alpha: Float?
    public var steps: Int
    /// The recipe fingerprint the run recorded (see Service's Fingerprint).
    public var recipeFingerprint: String
    /// The dropbooth version that wrote the file.
    public var version: String?
    public var outputName: String?

    public init(baseModel: String, method: String, rank: Int? = nil, alpha: Float? = nil, steps: Int,
                recipeFingerprint: String, version: String? = nil, outputName: String? = nil) {
        self.baseModel = baseModel; self.method = method; self.rank = rank; self.alpha = alpha
        self.steps = steps; self.recipeFingerprint = recipeFingerprint; self.version = version; self.outputName = outputName
    }

    public static let prefix = "dropbooth."

    public var metadata: [String: String] {
        var m: [String: String] = [
            Self.prefix + "base_model": baseModel, Self.prefix + "method": method,
            Self.prefix + "steps": String(steps), Self.prefix + "recipe_fingerprint": recipeFingerprint,
            LoRAMetadata.modelName: baseModel, LoRAMetadata.steps: String(steps),
        ]
        if let rank { m[Self.prefix + "rank"] = String(rank); m[LoRAMetadata.networkDim] = String(rank) }
        if let alpha {
            m[Self.prefix + "alpha"] = LoRAMetadata.formatNumber(alpha); m[LoRAMetadata.networkAlpha] = LoRAMetadata.formatNumber(alpha)
        }
        if let version { m[Self.prefix + "version"] = version }
        if let outputName { m[LoRAMetadata.outputName] = outputName }
        return m
    }

    /// The info a file carries, nil when it was not written by dropbooth.
    public init?(metadata: [String: String]) {
        let p = Self.prefix
        guard let base = metadata[p + "base_model"], let method = metadata[p + "method"],
              let steps = metadata[p + "steps"].flatMap({ Int($0) }), let fingerprint = metadata[p + "recipe_fingerprint"] else { return nil }
        self.init(baseModel: base, method: method, rank: metadata[p + "rank"].flatMap { Int($0) },
                  alpha: metadata[p + "alpha"].flatMap { Float($0) }, steps: steps, recipeFingerprint: fingerprint,
                  version: metadata[p + "version"], outputName: metadata[LoRAMetadata.outputName])
    }
}

extension LoRAAdapter {
    /// Reads a LoRA in either convention, chosen from its keys. Kohya files need the model's
    /// module paths to map their names (see `KohyaLoRAFormat`); without them a kohya file is refused.
    public static func read(path: String, unetModules: [String]? = nil, textEncoderModules: [String]? = nil) throws -> LoRAAdapter {
        let file = try SafeTensorsFile(path: path)
        if KohyaLoRAFormat.looksLikeKohya(file) {
            guard unetModules != nil || textEncoderModules != nil else {
                throw AdapterError.unsupported(path: path, what: "a kohya LoRA (lora_unet_…/lora_te_… keys) needs the base model's module names to be read; none were given")
            }
            return try KohyaLoRAFormat(unetModules: unetModules ?? [], textEncoderModules: textEncoderModules ?? []).read(file)
        }
        return try DiffusersLoRAFormat.read(file)
    }
}
