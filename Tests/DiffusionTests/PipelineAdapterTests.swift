import Foundation
import Testing
import TensorEngine
@testable import Diffusion
import TestSupport

/// LoRA and textual-inversion application through the models' hooks.
@Suite("pipeline adapters")
struct PipelineAdapterTests {
    static func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 0.1) -> Tensor {
        var rng = PhiloxRandom(seed: seed)
        return rng.normal(shape: shape, std: std)
    }

    @Test("two LoRAs on one layer act as the sum of their updates at their scales")
    func stackedLoRAsAreTheSum() throws {
        let pipeline = try PipelineCase.named("sd1-ddim").pipeline()
        let layer = try #require(pipeline.unet.linearLayers.first { $0.name.hasSuffix("attn2.to_k") })
        let (inF, outF) = (layer.inFeatures, layer.outFeatures)
        let a1 = Self.randomTensor([2, inF], seed: 1), b1 = Self.randomTensor([outF, 2], seed: 2)
        let a2 = Self.randomTensor([3, inF], seed: 3), b2 = Self.randomTensor([outF, 3], seed: 4)
        let first = LowRankWeights(unet: [layer.name: .init(down: a1, up: b1, alpha: 1)])     // alpha/rank = 0.5
        let second = LowRankWeights(unet: [layer.name: .init(down: a2, up: b2)])             // alpha/rank = 1
        let x = Self.randomTensor([4, inF], seed: 5, std: 1)

        let base = noGrad { layer(x) }.scalars
        try AdapterApplication.applyLoRAs([("a", first, 0.8), ("b", second, -0.5)], unet: pipeline.unet, textEncoder: pipeline.textEncoder)
        let merged = noGrad { layer(x) }.scalars
        AdapterApplication.clear(unet: pipeline.unet, textEncoder: pipeline.textEncoder)
        #expect(layer.lora == nil)

        // Reference: base + 0.8·0.5·(x A1ᵀ) B1ᵀ − 0.5·(x A2ᵀ) B2ᵀ, in plain loops.
        func update(_ a: Tensor, _ b: Tensor, _ factor: Float) -> [Float] {
            let r = a.shape[0], xs = x.scalars, av = a.scalars, bv = b.scalars
            var out = [Float](repeating: 0, count: 4 * outF)
            for n in 0..<4 {
                let hidden = (0..<r).map { k in (0..<inF).reduce(Float(0)) { $0 + xs[n * inF + $1] * av[k * inF + $1] } }
                for o in 0..<outF { out[n * outF + o] = factor * (0..<r).reduce(Float(0)) { $0 + hidden[$1] * bv[o * r + $1] } }
            }
            return out
        }
        let u1 = update(a1, b1, 0.4), u2 = update(a2, b2, -0.5)
        let expected = (0..<base.count).map { base[$0] + u1[$0] + u2[$0] }
        expectClose(merged, expected, rtol: 1e-4, atol: 1e-5, "stacked LoRA output")
    }

    @Test("a LoRA naming an unknown layer or the wrong shape is refused with its name")
    func badLoRAsAreRefused() throws {
        let pipeline = try PipelineCase.named("sd1-ddim").pipeline()
        let unknown = LowRankWeights(unet: ["down_blocks.9.nothing": .init(down: Tensor(zeros: [1, 4]), up: Tensor(zeros: [4, 1]))])
        #expect(throws: AdapterApplicationError.self) {
            try AdapterApplication.applyLoRAs([("style.safetensors", unknown, 1)], unet: pipeline.unet, textEncoder: pipeline.textEncoder)
        }
        let layer = pipeline.textEncoder.linearLayers[0]
        let wrong = LowRankWeights(textEncoder: [layer.name: .init(down: Tensor(zeros: [1, layer.inFeatures + 1]), up: Tensor(zeros: [layer.outFeatures, 1]))])
        do {
            try AdapterApplication.applyLoRAs([("style.safetensors", wrong, 1)], unet: pipeline.unet, textEncoder: pipeline.textEncoder)
            Issue.record("a mis-shaped LoRA was accepted")
        } catch let error as AdapterApplicationError {
            #expect(error.problem.contains("style.safetensors") && error.problem.contains(layer.name))
        }
    }

    @Test("a LoRA at scale 0 leaves the image unchanged; at scale 1 it changes it")
    func loRAChangesSamples() throws {
        let c = try PipelineCase.named("sd1-ddim")
        let pipeline = try c.pipeline()
        var request = c.request
        request.steps = 2
        let base = try pipeline.generate(request)
        var pairs: [String: LowRankWeights.Pair] = [:]
        for (i, l) in pipeline.unet.linearLayers.enumerated() where l.name.hasSuffix("to_v") {
            pairs[l.name] = .init(down: Self.randomTensor([2, l.inFeatures], seed: UInt64(10 + i), std: 0.5),
                                  up: Self.randomTensor([l.outFeatures, 2], seed: UInt64(100 + i), std: 0.5))
        }
        let weights = LowRankWeights(unet: pairs)
        try AdapterApplication.applyLoRAs([("x", weights, 0)], unet: pipeline.unet, textEncoder: pipeline.textEncoder)
        func levels(_ a: [UInt8], _ b: [UInt8]) -> Int { zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0 }
        // Within one level: runs of the same pipeline are not always bit-identical here.
        #expect(levels(try pipeline.generate(request).pixels, base.pixels) <= 1)
        try AdapterApplication.applyLoRAs([("x", weights, 1)], unet: pipeline.unet, textEncoder: pipeline.textEncoder)
        #expect(levels(try pipeline.generate(request).pixels, base.pixels) > 1)
    }

    @Test("multi-vector embeddings widen their token in prompts")
    func embeddingPromptExpansion() {
        let e = TokenEmbeddings(token: "<cat-toy>", vectors: Tensor(zeros: [3, 8]))
        #expect(e.tokenNames == ["<cat-toy>", "<cat-toy>_1", "<cat-toy>_2"])
        #expect(e.expand("a <cat-toy> on a <cat-toy>") == "a <cat-toy> <cat-toy>_1 <cat-toy>_2 on a <cat-toy> <cat-toy>_1 <cat-toy>_2")
    }

    @Test("an embedding's rows are what its tokens encode to")
    func embeddingRowsAreUsed() throws {
        let pipeline = try PipelineCase.named("sd1-ddim").pipeline()
        var tokenizer = pipeline.tokenizer
        // The tiny tokenizer has fewer tokens than the tiny encoder's rows: pad it with
        // placeholder tokens so the added ids land after the vocabulary, as with real CLIP.
        tokenizer.addTokens((tokenizer.vocabularySize..<pipeline.textEncoder.config.vocabSize).map { "<pad\($0)>" })
        let d = pipeline.textEncoder.config.hiddenSize
        let vectors = Self.randomTensor([2, d], seed: 7, std: 1)
        try AdapterApplication.addEmbeddings([TokenEmbeddings(token: "<toy>", vectors: vectors)], tokenizer: &tokenizer, textEncoder: pipeline.textEncoder)
        let ids = tokenizer.encode("a <toy> <toy>_1")
        let first = try #require(tokenizer.id(of: "<toy>"))
        #expect(first == pipeline.textEncoder.config.vocabSize)
        #expect(ids.contains(first) && ids.contains(first + 1))
        let embedded = noGrad { pipeline.textEncoder.embed([ids]) }.scalars
        let position = try #require(ids.firstIndex(of: first))
        #expect(Array(embedded[(position * d)..<((position + 2) * d)]) == vectors.scalars)
        // A second load of the same token is refused.
        #expect(throws: AdapterApplicationError.self) {
            try AdapterApplication.addEmbeddings([TokenEmbeddings(token: "<toy>", vectors: vectors)], tokenizer: &tokenizer, textEncoder: pipeline.textEncoder)
        }
    }
}
