import Diffusion
import Foundation
import ModelIO
import TensorEngine
import Testing
@testable import Training
import TestSupport

/// A template like models/default, shrunk so that a few steps run in a debug build.
func tinyPretrainingTemplate() throws -> String {
    let root = TestFixtures.repositoryRoot.appendingPathComponent("models/default").path
    let dir = NSTemporaryDirectory() + "pretrain-template-\(UUID().uuidString)"
    let fm = FileManager.default
    for file in PretrainingFolder.configFiles {
        let target = (dir as NSString).appendingPathComponent(file)
        try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try fm.copyItem(atPath: (root as NSString).appendingPathComponent(file), toPath: target)
    }
    func edit(_ file: String, _ changes: [String: Any]) throws {
        let p = (dir as NSString).appendingPathComponent(file)
        var o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p))) as! [String: Any]
        for (k, v) in changes { o[k] = v }
        try JSONSerialization.data(withJSONObject: o).write(to: URL(fileURLWithPath: p))
    }
    try edit("unet/config.json", ["block_out_channels": [8, 16], "attention_head_dim": [2, 2], "cross_attention_dim": 16,
                                  "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
                                  "norm_num_groups": 4])
    try edit("vae/config.json", ["block_out_channels": [8, 16], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
                                 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "norm_num_groups": 4])
    try edit("text_encoder/config.json", ["hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2])
    return dir
}

/// 8x8 images: a bright square on a dark ground, its position from the index; captioned.
let squaresData = PretrainingData(size: 8) { i in
    var pixels = [Float](repeating: -0.8, count: 8 * 8 * 3)
    let (x0, y0) = (i % 4, (i / 4) % 4)
    for y in y0..<(y0 + 4) { for x in x0..<(x0 + 4) { pixels[(y * 8 + x) * 3 + i % 3] = 0.9 } }
    return PretrainingExample(pixels: pixels, caption: ["a red square", "a green square", "a blue square"][i % 3])
}

@Suite struct InitialWeightsTests {
    @Test func tensorsHaveTheAskedShapeAndPyTorchDefaults() throws {
        let w = InitialWeights(seed: 3)
        let linear = try #require(try w.tensor(named: "a.to_q.weight", expectedShape: [64, 256]))
        #expect(linear.shape == [64, 256])
        let bound = 1 / Float(256).squareRoot()
        #expect(linear.scalars.allSatisfy { abs($0) <= bound })
        // uniform(±b) has standard deviation b/√3
        let values = linear.scalars
        let std = (values.map { $0 * $0 }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(abs(std - bound / Float(3).squareRoot()) < 0.05 * bound)

        let conv = try #require(try w.tensor(named: "conv_in.weight", expectedShape: [32, 4, 3, 3]))
        #expect(conv.scalars.allSatisfy { abs($0) <= 1 / Float(36).squareRoot() })
        #expect(conv.scalars.contains { abs($0) > 0.9 / Float(36).squareRoot() })
        #expect(try w.tensor(named: "conv_in.bias", expectedShape: [32])!.scalars.allSatisfy { $0 == 0 })
        #expect(try w.tensor(named: "norm1.weight", expectedShape: [32])!.scalars.allSatisfy { $0 == 1 })
        let embedding = try #require(try w.tensor(named: "embeddings.token_embedding.weight", expectedShape: [1000, 16]))
        let e = embedding.scalars
        let eStd = (e.map { $0 * $0 }.reduce(0, +) / Float(e.count)).squareRoot()
        #expect(abs(eStd - 0.02) < 0.002)
    }

    @Test func valuesDependOnlyOnSeedAndName() throws {
        let a = try InitialWeights(seed: 1).tensor(named: "x.weight", expectedShape: [4, 4])!.scalars
        #expect(a == (try InitialWeights(seed: 1).tensor(named: "x.weight", expectedShape: [4, 4])!.scalars))
        #expect(a != (try InitialWeights(seed: 2).tensor(named: "x.weight", expectedShape: [4, 4])!.scalars))
        #expect(a != (try InitialWeights(seed: 1).tensor(named: "y.weight", expectedShape: [4, 4])!.scalars))
    }

    @Test func buildsEveryNetworkOfTheDefaultConfigs() throws {
        let root = TestFixtures.repositoryRoot.appendingPathComponent("models/default").path
        let unet = try UNet2DConditionModel(config: UNetConfig(contentsOf: root + "/unet/config.json"), weights: InitialWeights(seed: 0))
        let vae = try AutoencoderKL(config: VAEConfig(contentsOf: root + "/vae/config.json"), weights: InitialWeights(seed: 0))
        #expect(unet.parameters.count > 50 && vae.parameters.count > 50)
        #expect(unet.parameters.values.allSatisfy { $0.storage.isWritable })
        #expect(try FullFineTune.parameters(of: vae).allSatisfy { $0.tensor.requiresGrad })
    }
}

@Suite struct PretrainingStageTests {
    @Test func vaeStepsReduceTheReconstructionLoss() throws {
        let dir = NSTemporaryDirectory() + "pretrain-vae-\(UUID().uuidString)"
        let folder = try PretrainingFolder.create(at: dir, template: try tinyPretrainingTemplate(), seed: 1)
        var options = VAEPretrainingOptions()
        options.batchSize = 4; options.learningRate = 3e-3; options.warmupSteps = 0
        let stage = try VAEPretraining(vae: try folder.loadVAE(), options: options)
        let (images, _) = squaresData.batch(first: 0, count: 4)
        let batch = Tensor(images.values, shape: images.shape)
        let first = stage.train(images: batch)
        var last = first
        for _ in 0..<15 { last = stage.train(images: batch) }
        #expect(last.reconstruction < 0.8 * first.reconstruction, "L1 \(first.reconstruction) → \(last.reconstruction)")
        #expect(stage.step == 16)
    }

    @Test func diffusionStepsReduceTheDenoisingLoss() throws {
        let dir = NSTemporaryDirectory() + "pretrain-diffusion-\(UUID().uuidString)"
        let folder = try PretrainingFolder.create(at: dir, template: try tinyPretrainingTemplate(), seed: 2)
        var options = DiffusionPretrainingOptions()
        options.batchSize = 6; options.learningRate = 2e-3; options.warmupSteps = 0; options.captionDropout = 0
        let c = try folder.checkpoint()
        let stage = try DiffusionPretraining(unet: try folder.loadUNet(), textEncoder: try folder.loadTextEncoder(), vae: try folder.loadVAE(),
                                             tokenizer: try folder.loadTokenizer(), schedule: try NoiseSchedule(config: c.schedulerConfig), options: options)
        let (images, captions) = squaresData.batch(first: 0, count: 6)
        let batch = stage.batch(images: Tensor(images.values, shape: images.shape), captions: captions)
        // The same batch (noise, timesteps) every step: the loss on it must fall.
        let before = stage.trainer.evaluate(batch).total
        for _ in 0..<12 { stage.trainer.trainStep([batch]) }
        let after = stage.trainer.evaluate(batch).total
        #expect(after < 0.8 * before, "loss \(before) → \(after)")
    }

    @Test func savedFolderReopensWithTheSameOutputs() throws {
        let dir = NSTemporaryDirectory() + "pretrain-folder-\(UUID().uuidString)"
        let folder = try PretrainingFolder.create(at: dir, template: try tinyPretrainingTemplate(), seed: 5)
        // Train a little so the saved weights differ from any initialisation, then save.
        var options = VAEPretrainingOptions()
        options.batchSize = 2; options.warmupSteps = 0
        let stage = try VAEPretraining(vae: try folder.loadVAE(), options: options)
        let (images, _) = squaresData.batch(first: 3, count: 2)
        let batch = Tensor(images.values, shape: images.shape)
        _ = stage.train(images: batch)
        try folder.save(stage.vae.parameters, .vae)
        try folder.setVAEScalingFactor(0.5)

        let checkpoint = try StableDiffusionCheckpoint.open(dir)
        #expect(checkpoint.vaeConfig.scalingFactor == 0.5)
        let reopened = try checkpoint.loadVAE()
        let expected = noGrad { stage.vae.decode(stage.vae.encode(batch).mean) }.scalars
        let actual = noGrad { reopened.decode(reopened.encode(batch).mean) }.scalars
        #expect(zip(actual, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })

        // The untrained networks reopen as they were made from the seed.
        let unet = try checkpoint.loadUNet()
        let fresh = try UNet2DConditionModel(config: checkpoint.unetConfig, weights: InitialWeights(seed: 5))
        let text = try checkpoint.loadTextEncoder()
        let ids = [try folder.loadTokenizer().encode("a red square")]
        let context = noGrad { text.encode(ids).lastHiddenState }
        var rng = PhiloxRandom(seed: 9)
        let latents = rng.normal(shape: [1, 4, 4, 4])
        let a = noGrad { unet(latents, timesteps: [500], context: context) }.scalars
        let b = noGrad { fresh(latents, timesteps: [500], context: context) }.scalars
        #expect(a == b)

        // A float16 export opens too, within float16's precision.
        let exported = dir + "-fp16"
        try folder.save(reopened.parameters, .vae, dtype: .f16, into: exported)
        let half = try AutoencoderKL(config: checkpoint.vaeConfig, weights: SafeTensorsWeights(path: exported + "/vae/diffusion_pytorch_model.safetensors"))
        let h = noGrad { half.decode(half.encode(batch).mean) }.scalars
        #expect(zip(h, expected).allSatisfy { abs($0 - $1) <= 0.02 })
    }

    @Test func optimizerStateRoundTrips() throws {
        let dir = NSTemporaryDirectory() + "pretrain-adam-\(UUID().uuidString)"
        let folder = try PretrainingFolder.create(at: dir, template: try tinyPretrainingTemplate(), seed: 6)
        var options = VAEPretrainingOptions()
        options.batchSize = 2
        let stage = try VAEPretraining(vae: try folder.loadVAE(), options: options)
        let (images, _) = squaresData.batch(first: 0, count: 2)
        _ = stage.train(images: Tensor(images.values, shape: images.shape))
        try folder.saveOptimizer(stage.optimizer, names: stage.names, stage: "vae")
        let other = try VAEPretraining(vae: try folder.loadVAE(), options: options)
        #expect(try folder.restoreOptimizer(other.optimizer, names: other.names, stage: "vae"))
        #expect(other.step == 1)
        #expect(other.optimizer.secondMoments.map(\.scalars) == stage.optimizer.secondMoments.map(\.scalars))
        #expect(try !folder.restoreOptimizer(other.optimizer, names: other.names, stage: "diffusion"))
    }
}
