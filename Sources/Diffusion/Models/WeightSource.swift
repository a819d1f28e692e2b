// Where a model's parameters come from, by their diffusers/transformers names.
//
// A `WeightSource` hands out tensors exactly as the checkpoint stores them: PyTorch's layout
// (linear [out, in], conv OIHW), widened to float32. It knows nothing about models.
// Models read through a `WeightReader`, which checks every shape against the config and does
// the one layout change the engine needs: conv weights OIHW → [O, KH, KW, I] happen in
// `WeightReader.convWeight` and nowhere else. Loaders (diffusers folders, single-file LDM
// checkpoints with their key mapping) implement `WeightSource`; the models never see file
// formats or key conventions.

import ModelIO
import TensorEngine

/// A named set of tensors in PyTorch layout, float32.
public protocol WeightSource: AnyObject {
    /// Every tensor name the source holds (to report tensors no model used).
    var tensorNames: [String] { get }
    /// The tensor stored under `name` (float32, PyTorch layout, shape as stored), nil if absent.
    /// Throws when it exists but cannot be read (unknown dtype, damaged file).
    func tensor(named name: String) throws -> Tensor?
    /// Whether `name` is present (without reading it).
    func contains(_ name: String) -> Bool
    /// The tensor for `name` when a model expects `shape`. Stored sources ignore the shape
    /// (the default reads `tensor(named:)`); a source that makes tensors instead of storing
    /// them (random initialisation for pretraining) needs it.
    func tensor(named name: String, expectedShape: [Int]) throws -> Tensor?
    /// The half-precision format `name` is stored in (nil: float32, another type, or a source
    /// that does not say): layers keep such weights in that format (LayerWeightStorage).
    func storedHalfFormat(of name: String) -> HalfTensor.Format?
}

extension WeightSource {
    public func contains(_ name: String) -> Bool { tensorNames.contains(name) }
    public func tensor(named name: String, expectedShape: [Int]) throws -> Tensor? { try tensor(named: name) }
    public func storedHalfFormat(of name: String) -> HalfTensor.Format? { nil }
}

/// A parameter missing from the checkpoint, or stored with a shape the config does not predict.
public enum WeightError: Error, Equatable, CustomStringConvertible {
    case missing(name: String, expectedShape: [Int])
    case wrongShape(name: String, expectedShape: [Int], actualShape: [Int])

    public var description: String {
        switch self {
        case .missing(let name, let shape):
            return "checkpoint has no tensor \(name) (expected shape \(shape))"
        case .wrongShape(let name, let expected, let actual):
            return "tensor \(name) has shape \(actual), the model's config expects \(expected)"
        }
    }
}

/// Reads parameters for one model (or one sub-module, via `scoped`) from a source, checking
/// shapes and converting layouts. Records which names were read so a loader can report the
/// tensors nothing used.
public final class WeightReader: @unchecked Sendable {
    public let source: WeightSource
    public let prefix: String
    private let log: UsedNames

    /// Shared by a reader and every reader scoped from it.
    final class UsedNames: @unchecked Sendable {
        var names = Set<String>()
        var linears: [Linear] = []
        var convs: [Conv2d] = []
        var parameters: [String: Tensor] = [:]
        let rootPrefix: String
        init(rootPrefix: String) { self.rootPrefix = rootPrefix }
    }

    public init(_ source: WeightSource, prefix: String = "") {
        self.source = source; self.prefix = prefix; log = UsedNames(rootPrefix: prefix)
    }
    private init(_ source: WeightSource, prefix: String, log: UsedNames) {
        self.source = source; self.prefix = prefix; self.log = log
    }

    /// A reader for the sub-module `name` ("down_blocks.0" → "down_blocks.0.…").
    public func scoped(_ name: String) -> WeightReader {
        WeightReader(source, prefix: prefix + name + ".", log: log)
    }

    /// Whether the source holds `name` (relative to this reader's prefix).
    public func has(_ name: String) -> Bool {
        source.contains(prefix + name)
    }

    /// Names (full) read so far through this reader or any scoped from it.
    public var usedNames: Set<String> { log.names }
    /// Every Linear / Conv2d built from this reader (or one scoped from it), in build order:
    /// the layers a LoRA can attach to, by their full names.
    public var linearLayers: [Linear] { log.linears }
    public var convLayers: [Conv2d] { log.convs }
    /// Every tensor read, by name relative to the model, as the model uses it (conv weights
    /// already [O, KH, KW, I]: permute back with [0, 3, 1, 2] to save in PyTorch layout).
    /// Full fine-tuning (DreamBooth) sets requiresGrad on these.
    public var parameters: [String: Tensor] { log.parameters }
    /// A layer's name relative to the model (the root reader's prefix removed): the name
    /// adapters use, e.g. "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q".
    func layerName(_ name: String) -> String { String((prefix + name).dropFirst(log.rootPrefix.count)) }
    func register(_ layer: Linear) { log.linears.append(layer) }
    func register(_ layer: Conv2d) { log.convs.append(layer) }
    /// Drops `name` from `parameters`: its layer keeps it in half precision (LayerWeightStorage).
    func forgetParameter(_ name: String) { log.parameters[layerName(name)] = nil }
    /// The half-precision format the source stores `name` in, if any.
    func storedHalfFormat(_ name: String) -> HalfTensor.Format? { source.storedHalfFormat(of: prefix + name) }

    /// Source tensors no model read, sorted.
    public var unusedNames: [String] { source.tensorNames.filter { !log.names.contains($0) }.sorted() }

    /// The tensor `name` with exactly `shape` (stored layout, no conversion).
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let full = prefix + name
        guard let t = try source.tensor(named: full, expectedShape: shape) else { throw WeightError.missing(name: full, expectedShape: shape) }
        guard t.shape == shape else { throw WeightError.wrongShape(name: full, expectedShape: shape, actualShape: t.shape) }
        return record(full, t)
    }

    private func record(_ full: String, _ t: Tensor) -> Tensor {
        log.names.insert(full)
        log.parameters[String(full.dropFirst(log.rootPrefix.count))] = t
        return t
    }

    /// A linear weight [out, in]. Also accepts a 1x1 conv's [out, in, 1, 1] when `acceptConv1x1`
    /// (a Transformer2D's proj_in/proj_out is a 1x1 conv in SD 1.x and a linear layer in SD 2.x;
    /// in channels-last both are the same product).
    public func linearWeight(_ name: String, out: Int, in inF: Int, acceptConv1x1: Bool = false) throws -> Tensor {
        let full = prefix + name
        guard let t = try source.tensor(named: full, expectedShape: [out, inF]) else { throw WeightError.missing(name: full, expectedShape: [out, inF]) }
        if acceptConv1x1 && t.shape == [out, inF, 1, 1] { return record(full, t.reshaped([out, inF])) }
        guard t.shape == [out, inF] else { throw WeightError.wrongShape(name: full, expectedShape: [out, inF], actualShape: t.shape) }
        return record(full, t)
    }

    /// A conv weight stored OIHW [out, in, kh, kw], returned in the engine's [out, kh, kw, in].
    /// The single place where checkpoint layout becomes engine layout.
    public func convWeight(_ name: String, out: Int, in inC: Int, kernel: Int) throws -> Tensor {
        let t = try tensor(name, shape: [out, inC, kernel, kernel])
        // 1x1: same memory order, a view. Otherwise one permuted copy.
        let converted = kernel == 1 ? t.reshaped([out, 1, 1, inC]) : noGrad { t.permuted([0, 2, 3, 1]) }
        return record(prefix + name, converted)
    }
}

/// Tensors held in memory by name (tests, and models built programmatically).
public final class InMemoryWeights: WeightSource, @unchecked Sendable {
    public var tensors: [String: Tensor]
    public init(_ tensors: [String: Tensor] = [:]) { self.tensors = tensors }
    public var tensorNames: [String] { Array(tensors.keys) }
    public func tensor(named name: String) throws -> Tensor? { tensors[name] }
    public func contains(_ name: String) -> Bool { tensors[name] != nil }
}

/// Every tensor of one safetensors file (float16/bfloat16 widened to float32), names as stored.
public final class SafeTensorsWeights: WeightSource, @unchecked Sendable {
    public let file: SafeTensorsFile
    public init(file: SafeTensorsFile) { self.file = file }
    public convenience init(path: String) throws { self.init(file: try SafeTensorsFile(path: path)) }

    public var tensorNames: [String] { Array(file.entries.keys) }
    public func contains(_ name: String) -> Bool { file.entries[name] != nil }

    public func tensor(named name: String) throws -> Tensor? {
        guard let entry = file.entries[name] else { return nil }
        let t = Tensor(uninitializedShape: entry.shape)
        try file.readFloats(name, into: t.data)
        return t
    }
}
