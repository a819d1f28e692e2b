// The networks built from opened checkpoints: a diffusers folder reproduces diffusers' own
// outputs, and every other layout of the same model computes the same as the folder (its
// weights rounded to the file's 16-bit type), reading every tensor the file holds.
import Foundation
import ModelIO
import Testing
import TensorEngine
@testable import Diffusion
import TestSupport

/// Records which names a model read, to check that nothing in a checkpoint went unused.
final class RecordingWeights: WeightSource, @unchecked Sendable {
    let base: WeightSource
    var read = Set<String>()
    init(_ base: WeightSource) { self.base = base }
    var tensorNames: [String] { base.tensorNames }
    func contains(_ name: String) -> Bool { base.contains(name) }
    func tensor(named name: String) throws -> Tensor? { read.insert(name); return try base.tensor(named: name) }
    var unread: [String] { Set(base.tensorNames).subtracting(read).sorted() }
}

/// A checkpoint's weights with every value rounded as a 16-bit file stores it.
func rounded(_ w: CheckpointWeights, _ dtype: SafeTensorsDType) throws -> InMemoryWeights {
    var t: [String: Tensor] = [:]
    for name in w.tensorNames {
        let x = try w.tensor(named: name)!
        t[name] = Tensor(x.scalars.map { roundedLikeStorage($0, dtype) }, shape: x.shape)
    }
    return InMemoryWeights(t)
}

struct ModelOutputs {
    var unet: [Float], text: [Float], decoded: [Float]
}

/// The three networks of `ckpt` (or of `weights` replacing its own) on the fixture inputs of `tiny`.
func runModels(_ ckpt: StableDiffusionCheckpoint, tiny: TinyModel, weights: [CheckpointComponent: WeightSource]? = nil,
               unread: inout [String]) throws -> ModelOutputs {
    func source(_ c: CheckpointComponent) -> RecordingWeights { RecordingWeights(weights?[c] ?? ckpt.weights(c)) }
    let u = source(.unet), t = source(.textEncoder), v = source(.vae)
    let unet = try UNet2DConditionModel(config: ckpt.unetConfig, weights: u)
    let text = try CLIPTextModel(config: ckpt.textEncoderConfig, weights: t, endOfTextTokenID: ckpt.endOfTextTokenID ?? 49407)
    let vae = try AutoencoderKL(config: ckpt.vaeConfig, weights: v)
    unread = u.unread.map { "unet " + $0 } + t.unread.map { "text_encoder " + $0 } + v.unread.map { "vae " + $0 }

    let uref = try tiny.outputs("unet")
    let unetOut = noGrad { unet(try! uref.tensor("latents", nhwc: true), timesteps: try! uref.floats("timesteps"), context: try! uref.tensor("context")) }
    let tref = try tiny.outputs("text_encoder")
    let ids = try tref.floats("input_ids").map { Int($0) }
    let shape = try tref.entry("input_ids").shape
    let rows = (0..<shape[0]).map { Array(ids[$0 * shape[1] ..< ($0 + 1) * shape[1]]) }
    let textOut = noGrad { text.encode(rows).lastHiddenState }
    let vref = try tiny.outputs("vae")
    let image = noGrad { vae.decode(try! vref.tensor("latents", nhwc: true)) }
    return ModelOutputs(unet: nchwValues(unetOut), text: textOut.scalars, decoded: nchwValues(image))
}

@Suite struct CheckpointModelTests {
    @Test(arguments: TinyModel.names)
    func diffusersFolderReproducesDiffusers(model: String) throws {
        let tiny = TinyModel(name: model)
        let ckpt = try StableDiffusionCheckpoint.open(tiny.folder.path)
        var unread: [String] = []
        let out = try runModels(ckpt, tiny: tiny, unread: &unread)
        #expect(unread.isEmpty, "tensors no model read: \(unread.prefix(5))")
        expectClose(out.unet, try tiny.outputs("unet").floats("out"), rtol: modelRtol, atol: modelAtol, "\(model) UNet output")
        expectClose(out.text, try tiny.outputs("text_encoder").floats("last_hidden_state"), rtol: modelRtol, atol: modelAtol, "\(model) last_hidden_state")
        expectClose(out.decoded, try tiny.outputs("vae").floats("decoded"), rtol: modelRtol, atol: modelAtol, "\(model) decoded image")
    }

    @Test(arguments: [("sd1_fp16.safetensors", "sd1-tiny", SafeTensorsDType.f16), ("sd2_bf16.safetensors", "sd2-tiny", .bf16)])
    func singleFileComputesWhatTheFolderComputes(file: String, model: String, dtype: SafeTensorsDType) throws {
        let tiny = TinyModel(name: model)
        let single = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint(file))
        let folder = try StableDiffusionCheckpoint.open(tiny.folder.path)
        var unread: [String] = [], ignored: [String] = []
        let a = try runModels(single, tiny: tiny, unread: &unread)
        #expect(unread.isEmpty, "tensors no model read: \(unread.prefix(5))")
        var same: [CheckpointComponent: WeightSource] = [:]
        for c in CheckpointComponent.allCases { same[c] = try rounded(folder.weights(c), dtype) }
        let b = try runModels(folder, tiny: tiny, weights: same, unread: &ignored)
        // Same weights, same network: only float32 summation order may differ (threads split
        // reductions by the machine's load), so the model tolerance applies.
        expectClose(a.unet, b.unet, rtol: modelRtol, atol: modelAtol, "\(file) UNet output")
        expectClose(a.text, b.text, rtol: modelRtol, atol: modelAtol, "\(file) last_hidden_state")
        expectClose(a.decoded, b.decoded, rtol: modelRtol, atol: modelAtol, "\(file) decoded image")
        // And, through 16-bit weights, still close to diffusers' float32 model.
        expectClose(a.unet, try tiny.outputs("unet").floats("out"), rtol: 0.05, atol: 0.05, "\(file) UNet vs diffusers")
    }

    /// The sharded fp16 / legacy-named / prefixed bf16 folder computes what the plain one does.
    @Test func diffusersFolderVariantsComputeWhatTheFolderComputes() throws {
        let tiny = TinyModel(name: "sd2-tiny")
        let variants = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd2_variants"))
        let folder = try StableDiffusionCheckpoint.open(tiny.folder.path)
        var unread: [String] = [], ignored: [String] = []
        let a = try runModels(variants, tiny: tiny, unread: &unread)
        #expect(unread.isEmpty, "tensors no model read: \(unread.prefix(5))")
        let same: [CheckpointComponent: WeightSource] = [
            .unet: try rounded(folder.unetWeights, .f16), .vae: try rounded(folder.vaeWeights, .f16),
            .textEncoder: try rounded(folder.textEncoderWeights, .bf16),
        ]
        let b = try runModels(folder, tiny: tiny, weights: same, unread: &ignored)
        expectClose(a.unet, b.unet, rtol: modelRtol, atol: modelAtol, "variants UNet output")
        expectClose(a.text, b.text, rtol: modelRtol, atol: modelAtol, "variants last_hidden_state")
        expectClose(a.decoded, b.decoded, rtol: modelRtol, atol: modelAtol, "variants decoded image")
    }
}

@Suite struct CheckpointModelLoadingTests {
    @Test func loadsEveryNetworkOfEveryLayout() throws {
        for path in [CheckpointFixtures.model("sd1-tiny"), CheckpointFixtures.checkpoint("sd2_bf16.safetensors"),
                     CheckpointFixtures.checkpoint("sd2_variants")] {
            let ckpt = try StableDiffusionCheckpoint.open(path)
            #expect(try ckpt.loadUNet().unusedTensorNames.isEmpty, "\(path)")
            #expect(try ckpt.loadVAE().unusedTensorNames.isEmpty, "\(path)")
            #expect(try ckpt.loadTextEncoder().unusedTensorNames.isEmpty, "\(path)")
        }
    }

    /// A tensor no network reads is reported, not dropped.
    @Test func unreadTensorIsAnError() throws {
        let dir = try CheckpointFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = dir + "/pipeline"
        try CheckpointFixtures.copy(CheckpointFixtures.model("sd1-tiny"), to: folder)
        let vaeFile = folder + "/vae/diffusion_pytorch_model.safetensors"
        try CheckpointFixtures.rewrite(CheckpointFixtures.model("sd1-tiny/vae/diffusion_pytorch_model.safetensors"), to: vaeFile + ".new") {
            $0["encoder.mid_block.attentions.0.extra_gate.weight"] = ([2], [1, 2], .f32)
        }
        try FileManager.default.removeItem(atPath: vaeFile)
        try FileManager.default.moveItem(atPath: vaeFile + ".new", toPath: vaeFile)
        let ckpt = try StableDiffusionCheckpoint.open(folder)
        #expect(throws: CheckpointError.unknownTensor(path: vaeFile, name: "encoder.mid_block.attentions.0.extra_gate.weight")) {
            _ = try ckpt.loadVAE()
        }
    }
}
