import Foundation
import ModelIO
import Training

/// The trained result in the recipe's `outputs.formats`, each file described for the report.
extension TrainingPhase {
    static let loraDiffusersFile = "pytorch_lora_weights.safetensors"
    static let loraKohyaFile = "lora_kohya.safetensors"
    static let embeddingDiffusersFile = "learned_embeds.safetensors"
    static let modelFolder = "model"

    static let singleFile = "model.safetensors"

    /// A1111 names an embedding by its file name: "<my-cat>" → "my-cat.safetensors".
    static func a1111FileName(token: String) -> String {
        let kept = token.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" }
        let stem = String(String.UnicodeScalarView(kept))
        return (stem.isEmpty ? "embedding" : stem) + ".safetensors"
    }

    static func export(_ run: TrainingRun, recipe: Recipe, context: JobContext) throws -> [TrainingSummary.Output] {
        let work = context.workDirectory
        let info = DropboothAdapterInfo(
            baseModel: recipe.baseModel, method: recipe.method.rawValue,
            rank: trainsLoRA(recipe) ? (recipe.lora?.rank ?? dreamBoothLoRA.rank) : nil,
            alpha: trainsLoRA(recipe) ? Float(recipe.lora?.alpha ?? Double(dreamBoothLoRA.alpha)) : nil,
            steps: run.step, recipeFingerprint: context.runId, outputName: context.job)
        var outputs: [TrainingSummary.Output] = []
        if let adapter = run.loraAdapter(info: info) {
            for format in recipe.outputs.formats {
                switch format {
                case .diffusers:
                    try DiffusersLoRAFormat.write(adapter, to: "\(work)/\(loraDiffusersFile)")
                    outputs.append(.init(file: loraDiffusersFile, format: format.rawValue,
                                         description: "The LoRA in the diffusers/PEFT convention, trained on \(recipe.baseModel) for \(run.step) steps.",
                                         usage: "pipe = StableDiffusionPipeline.from_pretrained(\"<\(recipe.baseModel)>\"); pipe.load_lora_weights(\"<this folder>\", weight_name=\"\(loraDiffusersFile)\")"))
                case .kohya:
                    try KohyaLoRAFormat.write(adapter, to: "\(work)/\(loraKohyaFile)")
                    outputs.append(.init(file: loraKohyaFile, format: format.rawValue,
                                         description: "The same LoRA with kohya's key names (alpha included), as the A1111 web UI and ComfyUI load it.",
                                         usage: "A1111: copy to stable-diffusion-webui/models/Lora/ and write <lora:lora_kohya:1> in the prompt; ComfyUI: copy to models/loras/ and use a LoraLoader node."))
                case .a1111, .singleFile:
                    continue
                }
            }
        } else if let embedding = run.embedding(info: info) {
            for format in recipe.outputs.formats {
                switch format {
                case .diffusers:
                    try embedding.writeDiffusers(to: "\(work)/\(embeddingDiffusersFile)")
                    outputs.append(.init(file: embeddingDiffusersFile, format: format.rawValue,
                                         description: "The textual-inversion embedding for \(embedding.token) (\(embedding.count) vector(s)), as diffusers saves it.",
                                         usage: "pipe.load_textual_inversion(\"\(embeddingDiffusersFile)\", token=\"\(embedding.token)\"), then write \(embedding.token) in the prompt."))
                case .a1111:
                    let name = a1111FileName(token: embedding.token)
                    try embedding.writeA1111(to: "\(work)/\(name)")
                    let word = String(name.dropLast(".safetensors".count))
                    outputs.append(.init(file: name, format: format.rawValue,
                                         description: "The same embedding as the A1111 web UI loads it.",
                                         usage: "Copy to stable-diffusion-webui/embeddings/ and write \(word) in the prompt (the file name is the word)."))
                case .kohya, .singleFile:
                    continue
                }
            }
        } else {
            for format in recipe.outputs.formats {
                switch format {
                case .diffusers:
                    do { try run.writeDiffusersFolder(to: "\(work)/\(modelFolder)", info: info) } catch { throw JobFailure("outputs.formats: diffusers: \(error)") }
                    outputs.append(.init(file: modelFolder + "/", format: format.rawValue,
                                         description: "The fine-tuned model as a diffusers folder (\(recipe.baseModel)'s VAE, tokenizer and scheduler, the trained UNet\(recipe.train.trainTextEncoder ? " and text encoder" : "")).",
                                         usage: "pipe = StableDiffusionPipeline.from_pretrained(\"<this folder>/\(modelFolder)\")"))
                case .singleFile:
                    do { try run.writeSingleFile(to: "\(work)/\(singleFile)", info: info) } catch { throw JobFailure("outputs.formats: single_file: \(error)") }
                    outputs.append(.init(file: singleFile, format: format.rawValue,
                                         description: "The fine-tuned model as one float16 .safetensors with the original Stable Diffusion key names.",
                                         usage: "A1111: copy to stable-diffusion-webui/models/Stable-diffusion/ (with its .json sidecar, if any) and pick it as the checkpoint; ComfyUI: models/checkpoints/; diffusers: StableDiffusionPipeline.from_single_file(\"\(singleFile)\")."))
                case .kohya, .a1111:
                    continue
                }
            }
        }
        return outputs
    }
}
