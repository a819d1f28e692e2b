// The folder a pretraining run grows: a diffusers pipeline folder that StableDiffusionCheckpoint
// opens at any time (configs from a template, float32 weights rewritten at each checkpoint),
// plus the run's own state under pretrain/:
//
//   model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/   the model
//   pretrain/<stage>-state.json        the step reached and the stage's settings
//   pretrain/<stage>-optimizer.safetensors  AdamW's moments ("m.<name>", "v.<name>")
//   pretrain/<stage>-loss.tsv          one line per logged window of steps
//   pretrain/samples/<stage>-<step>.png  grids
//
// Every file is written under a temporary name and renamed, weights before optimiser before
// state, so a kill leaves a folder that resumes from its last complete checkpoint (at worst
// the weights are one checkpoint ahead of the optimiser state, which AdamW tolerates).

import Diffusion
import Foundation
import ModelIO
import TensorEngine

public struct PretrainingError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}

public struct PretrainingFolder: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    func sub(_ parts: String...) -> String { parts.reduce(path) { ($0 as NSString).appendingPathComponent($1) } }
    public var stateFolder: String { sub("pretrain") }
    public var samplesFolder: String { sub("pretrain", "samples") }

    static let weightFiles: [CheckpointComponent: String] = [
        .unet: "unet/diffusion_pytorch_model.safetensors",
        .vae: "vae/diffusion_pytorch_model.safetensors",
        .textEncoder: "text_encoder/model.safetensors",
    ]
    static let configFiles = ["model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                              "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json",
                              "scheduler/scheduler_config.json"]

    /// Makes `path` a pipeline folder: the template's configs and tokenizer, every network
    /// randomly initialised from `seed`. An existing pipeline folder is left as it is.
    @discardableResult
    public static func create(at path: String, template: String, seed: UInt64) throws -> PretrainingFolder {
        let folder = PretrainingFolder(path: path)
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.sub("model_index.json")) { return folder }
        for file in configFiles {
            let source = (template as NSString).appendingPathComponent(file)
            guard fm.fileExists(atPath: source) else {
                throw PretrainingError(path: source, problem: "missing from the template (expected the default model's configs, e.g. models/default)")
            }
            let target = folder.sub(file)
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if fm.fileExists(atPath: target) { try fm.removeItem(atPath: target) }
            try fm.copyItem(atPath: source, toPath: target)
        }
        let unet = try UNet2DConditionModel(config: UNetConfig(contentsOf: folder.sub("unet", "config.json")), weights: InitialWeights(seed: seed))
        let vae = try AutoencoderKL(config: VAEConfig(contentsOf: folder.sub("vae", "config.json")), weights: InitialWeights(seed: seed &+ 1))
        let text = try CLIPTextModel(config: CLIPTextConfig(contentsOf: folder.sub("text_encoder", "config.json")), weights: InitialWeights(seed: seed &+ 2))
        try folder.save(unet.parameters, .unet)
        try folder.save(vae.parameters, .vae)
        try folder.save(text.parameters, .textEncoder)
        return folder
    }

    public func checkpoint() throws -> StableDiffusionCheckpoint { try StableDiffusionCheckpoint.open(path) }

    /// The networks in owned, writable memory (for training), configs from the folder. Every
    /// weight float32 (whatever DROPBOOTH_HALF_WEIGHTS says): pretraining trains them all.
    public func loadVAE() throws -> AutoencoderKL {
        try LayerWeightStorage.withFloat32 {
            try AutoencoderKL(config: checkpoint().vaeConfig, weights: SafeTensorsWeights(path: sub(Self.weightFiles[.vae]!)))
        }
    }
    public func loadUNet() throws -> UNet2DConditionModel {
        try LayerWeightStorage.withFloat32 {
            try UNet2DConditionModel(config: checkpoint().unetConfig, weights: SafeTensorsWeights(path: sub(Self.weightFiles[.unet]!)))
        }
    }
    public func loadTextEncoder() throws -> CLIPTextModel {
        let c = try checkpoint()
        return try LayerWeightStorage.withFloat32 {
            try CLIPTextModel(config: c.textEncoderConfig, weights: SafeTensorsWeights(path: sub(Self.weightFiles[.textEncoder]!)),
                              endOfTextTokenID: c.endOfTextTokenID ?? 49407)
        }
    }
    public func loadTokenizer() throws -> CLIPTokenizer { try CLIPTokenizer(folder: URL(fileURLWithPath: sub("tokenizer"))) }

    /// Writes a network's parameters (as a model's `parameters`: conv weights channels-last)
    /// in PyTorch layout under its diffusers/transformers names.
    public func save(_ parameters: [String: Tensor], _ component: CheckpointComponent, dtype: SafeTensorsDType = .f32, into root: String? = nil) throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for (name, t) in parameters.sorted(by: { $0.key < $1.key }) {
            let (shape, values) = pytorchLayout(t)
            writer.add(name, shape: shape, values: values, dtype: dtype)
        }
        let target = ((root ?? path) as NSString).appendingPathComponent(Self.weightFiles[component]!)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try writer.write(to: target)
    }

    /// Sets vae/config.json's scaling_factor (measured once the autoencoder is trained).
    public func setVAEScalingFactor(_ factor: Float) throws {
        let p = sub("vae", "config.json")
        guard var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p))) as? [String: Any] else {
            throw PretrainingError(path: p, problem: "not a JSON object")
        }
        object["scaling_factor"] = Double(factor)
        try writeAtomically(JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), to: p)
    }

    // MARK: run state

    func statePath(_ stage: String) -> String { sub("pretrain", "\(stage)-state.json") }
    func optimizerPath(_ stage: String) -> String { sub("pretrain", "\(stage)-optimizer.safetensors") }
    public func lossLogPath(_ stage: String) -> String { sub("pretrain", "\(stage)-loss.tsv") }

    public func readState<S: Decodable>(_ stage: String, as type: S.Type) throws -> S? {
        let p = statePath(stage)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        do { return try JSONDecoder().decode(S.self, from: Data(contentsOf: URL(fileURLWithPath: p))) } catch {
            throw PretrainingError(path: p, problem: "cannot read the run state: \(error)")
        }
    }

    public func writeState<S: Encodable>(_ state: S, _ stage: String) throws {
        try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
        let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(e.encode(state), to: statePath(stage))
    }

    public func saveOptimizer(_ adam: AdamW, names: [String], stage: String) throws {
        precondition(names.count == adam.parameters.count)
        var writer = SafeTensorsWriter(metadata: ["step": "\(adam.step)"])
        for (i, name) in names.enumerated() {
            writer.add("m.\(name)", shape: adam.firstMoments[i].shape, values: adam.firstMoments[i].scalars)
            writer.add("v.\(name)", shape: adam.secondMoments[i].shape, values: adam.secondMoments[i].scalars)
        }
        try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
        try writer.write(to: optimizerPath(stage))
    }

    /// Restores AdamW's moments and step; false when the stage has no saved optimiser.
    public func restoreOptimizer(_ adam: AdamW, names: [String], stage: String) throws -> Bool {
        let p = optimizerPath(stage)
        guard FileManager.default.fileExists(atPath: p) else { return false }
        let file = try SafeTensorsFile(path: p)
        guard let step = file.metadata["step"].flatMap(Int.init) else { throw PretrainingError(path: p, problem: "no step in the metadata") }
        var m: [[Float]] = [], v: [[Float]] = []
        for (i, name) in names.enumerated() {
            guard file.entries["m.\(name)"]?.shape == adam.parameters[i].shape else {
                throw PretrainingError(path: p, problem: "m.\(name) is missing or has another shape than \(adam.parameters[i].shape)")
            }
            m.append(try file.floats("m.\(name)")); v.append(try file.floats("v.\(name)"))
        }
        adam.restore(step: step, firstMoments: m, secondMoments: v)
        return true
    }

    public func appendLog(_ stage: String, header: String, line: String) throws {
        try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
        let p = lossLogPath(stage)
        if !FileManager.default.fileExists(atPath: p) { try Data((header + "\n").utf8).write(to: URL(fileURLWithPath: p)) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: p))
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data((line + "\n").utf8))
    }
}

/// A parameter as PyTorch stores it: conv weights [O, KH, KW, I] → [O, I, KH, KW].
func pytorchLayout(_ t: Tensor) -> (shape: [Int], values: [Float]) {
    guard t.rank == 4 else { return (t.shape, t.scalars) }
    let s = t.shape
    return ([s[0], s[3], s[1], s[2]], noGrad { t.permuted([0, 3, 1, 2]).scalars })
}

func writeAtomically(_ data: Data, to path: String) throws {
    let partial = path + ".partial"
    try data.write(to: URL(fileURLWithPath: partial))
    guard rename(partial, path) == 0 else { throw PretrainingError(path: path, problem: "rename failed (errno \(errno))") }
}
