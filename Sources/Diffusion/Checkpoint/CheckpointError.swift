// What can go wrong opening a Stable Diffusion checkpoint. Every case names the file and, where
// there is one, the config key or tensor, and says what was expected: these messages reach
// users through a job's outbox.

public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// A pickle-based file (.ckpt, .pt, .pth, .bin): loading one runs arbitrary code.
    case pickleRefused(path: String)
    case notACheckpoint(path: String, reason: String)
    /// A folder component (unet/, vae/, ...) without a config or weights.
    case missingFile(path: String, what: String)
    /// config.json / model_index.json / a sidecar that is not the JSON expected.
    case badJSON(path: String, reason: String)
    /// A config key with a value of the wrong type or out of range.
    case badConfigValue(path: String, key: String, expected: String, found: String)
    /// A config key whose value describes an architecture this code does not build.
    case unsupportedConfig(path: String, key: String, value: String, reason: String)
    /// Config values that cannot describe a network together (e.g. channels that do not split
    /// into the given heads).
    case invalidConfig(path: String, key: String, reason: String)
    /// A tensor the layout requires is absent.
    case missingTensor(path: String, name: String)
    /// A tensor whose shape does not fit the others (or the config).
    case unexpectedShape(path: String, name: String, shape: [Int], expected: String)
    /// A tensor this loader does not know where to put (single files only: every name of an
    /// LDM file must map somewhere or be a known leftover).
    case unknownTensor(path: String, name: String)

    public var description: String {
        switch self {
        case .pickleRefused(let path):
            return "\(path): pickle checkpoints (.ckpt, .pt, .pth, .bin) are refused: loading one can run "
                + "arbitrary code hidden in the file. Convert it to .safetensors on a machine you trust, e.g. "
                + "with diffusers (`StableDiffusionPipeline.from_single_file(path).save_pretrained(folder)`) or "
                + "`safetensors.torch.save_file(torch.load(path, weights_only=True)[\"state_dict\"], out)`, "
                + "or download the .safetensors release of the model."
        case .notACheckpoint(let path, let reason):
            return "\(path): not a Stable Diffusion checkpoint: \(reason)"
        case .missingFile(let path, let what):
            return "\(path): missing \(what)"
        case .badJSON(let path, let reason):
            return "\(path): \(reason)"
        case .badConfigValue(let path, let key, let expected, let found):
            return "\(path): \(key) should be \(expected), found \(found)"
        case .unsupportedConfig(let path, let key, let value, let reason):
            return "\(path): \(key) = \(value) is not supported: \(reason)"
        case .invalidConfig(let path, let key, let reason):
            return "\(path): \(key) \(reason)"
        case .missingTensor(let path, let name):
            return "\(path): tensor \(name) is missing"
        case .unexpectedShape(let path, let name, let shape, let expected):
            return "\(path): tensor \(name) has shape \(shape), expected \(expected)"
        case .unknownTensor(let path, let name):
            return "\(path): tensor \(name) does not belong to any Stable Diffusion 1.x/2.x component"
        }
    }

    /// A model config's own validation error, located in `path`.
    init(_ e: ModelConfigError, path: String) {
        switch e {
        case .unsupported(_, let field, let value, let reason):
            self = .unsupportedConfig(path: path, key: field, value: value, reason: reason)
        case .invalid(_, let field, let reason):
            self = .invalidConfig(path: path, key: field, reason: reason)
        }
    }
}
