// The trained result in the files other tools load: a LoRA (diffusers/PEFT keys or kohya's),
// a textual-inversion embedding (diffusers' learned_embeds or A1111's), or after a full
// fine-tune a diffusers folder. Every file carries the run's DropboothAdapterInfo in its
// safetensors header.

import Foundation
import Diffusion
import ModelIO
import TensorEngine

extension TrainingRun {
    /// The trained LoRA factors as an adapter (PyTorch layouts). nil unless the method is LoRA.
    public func loraAdapter(info: DropboothAdapterInfo) -> LoRAAdapter? {
        guard case .lora(let lora) = options.method else { return nil }
        var adapter = LoRAAdapter(metadata: info.metadata)
        let byName = Dictionary(trainer.parameters.map { ($0.qualifiedName, $0) }, uniquingKeysWith: { a, _ in a })
        for p in trainer.parameters where p.name.hasSuffix(".lora_A.weight") {
            let layer = String(p.name.dropLast(".lora_A.weight".count))
            let upName = p.qualifiedName.dropLast(".lora_A.weight".count) + ".lora_B.weight"
            guard let up = byName[String(upName)] else { continue }
            let module = LoRAModule(p.part == .unet ? .unet : .textEncoder, layer)
            adapter.pairs[module] = LoRAPair(downShape: p.pytorchShape, down: p.pytorchValues(),
                                             upShape: up.pytorchShape, up: up.pytorchValues(), alpha: lora.alpha)
        }
        return adapter
    }

    /// The learned vectors under the placeholder token. nil unless the method is textual inversion.
    public func embedding(info: DropboothAdapterInfo) -> TextualInversionEmbedding? {
        guard case .textualInversion(let placeholders) = options.method, let p = placeholders.first,
              let rows = trainer.parameters.first?.tensor else { return nil }
        var metadata = info.metadata
        metadata["dropbooth.initializer"] = p.initializer
        return TextualInversionEmbedding(token: p.token, vectors: rows.scalars, count: rows.shape[0], dimension: rows.shape[1],
                                         metadata: metadata)
    }

    /// The fine-tuned model as one .safetensors in the original LDM layout (what the web UIs
    /// load), float16 as such files are distributed; returns the sidecar written, if any.
    @discardableResult
    public func writeSingleFile(to path: String, info: DropboothAdapterInfo) throws -> String? {
        guard case .fullFineTune = options.method else {
            throw TrainingRunError("a single-file model is written after a full fine-tune only")
        }
        var replacements: [CheckpointComponent: [String: Tensor]] = [:]
        for p in trainer.parameters {
            let name = storedName(p)
            let values = Tensor(p.pytorchValues(), shape: storedShape(p, name: name))
            replacements[p.part == .unet ? .unet : .textEncoder, default: [:]][name] = values
        }
        return try SingleFileExport.write(base: checkpoint, replacements: replacements, to: path,
                                          options: SingleFileExport.Options(metadata: info.metadata))
    }

    /// The base file's name for a trained parameter: text-encoder names with transformers'
    /// `text_model.` root when the base has it (transformers 5 writes files without it).
    func storedName(_ p: TrainableParameter) -> String {
        guard p.part == .textEncoder else { return p.name }
        let rooted = "text_model." + p.name
        return checkpoint.textEncoderWeights.contains(rooted) || !checkpoint.textEncoderWeights.contains(p.name) ? rooted : p.name
    }

    /// The shape the base stores a parameter in: SD 1.x keeps the transformers' proj_in/proj_out
    /// as 1x1 convolutions [O, I, 1, 1] that the model runs as linears [O, I].
    func storedShape(_ p: TrainableParameter, name: String) -> [Int] {
        let stored = checkpoint.weights(p.part == .unet ? .unet : .textEncoder).shape(of: name)
        guard let stored, stored.reduce(1, *) == p.tensor.count else { return p.pytorchShape }
        return stored
    }

    /// A diffusers folder of the fine-tuned model: the base's configs, tokenizer, scheduler and
    /// VAE copied, the trained UNet (and text encoder) written in PyTorch's layout.
    public func writeDiffusersFolder(to folder: String, info: DropboothAdapterInfo) throws {
        guard case .fullFineTune(let trainText) = options.method else {
            throw TrainingRunError("a diffusers model folder is written after a full fine-tune only")
        }
        guard checkpoint.format == .diffusersFolder else {
            throw TrainingRunError("\(basePath): the base model is a single file; a fine-tuned diffusers folder needs a diffusers base (its configs, tokenizer and scheduler are copied)")
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: folder) { try fm.removeItem(atPath: folder) }
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let replaced: Set<String> = trainText ? ["unet", "text_encoder"] : ["unet"]
        for item in try fm.contentsOfDirectory(atPath: basePath).sorted() where !item.hasPrefix(".") {
            let (source, target) = (basePath + "/" + item, folder + "/" + item)
            if replaced.contains(item) {
                try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
                for file in try fm.contentsOfDirectory(atPath: source) where file.hasSuffix(".json") && !file.hasSuffix(".index.json") {
                    try fm.copyItem(atPath: source + "/" + file, toPath: target + "/" + file)
                }
            } else {
                try fm.copyItem(atPath: source, toPath: target)
            }
        }
        var metadata = info.metadata
        metadata["format"] = "pt"
        var unetWriter = SafeTensorsWriter(metadata: metadata)
        var textWriter = SafeTensorsWriter(metadata: metadata)
        for p in trainer.parameters {
            let name = storedName(p)
            switch p.part {
            case .unet: unetWriter.add(name, shape: storedShape(p, name: name), values: p.pytorchValues())
            case .textEncoder: textWriter.add(name, shape: storedShape(p, name: name), values: p.pytorchValues())
            }
        }
        try unetWriter.write(to: folder + "/unet/diffusion_pytorch_model.safetensors")
        if trainText { try textWriter.write(to: folder + "/text_encoder/model.safetensors") }
    }
}
