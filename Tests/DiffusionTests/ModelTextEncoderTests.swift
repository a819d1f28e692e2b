import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// The CLIP text encoder against transformers' CLIPTextModel on the tiny fixtures
/// (rtol 1e-4, atol 1e-5).
@Suite struct ModelTextEncoderTests {
    @Test(arguments: TinyModel.names)
    func hiddenStatesMatchTransformers(model: String) throws {
        let tiny = TinyModel(name: model)
        let encoder = try tiny.textEncoder()
        let ref = try tiny.outputs("text_encoder")
        let ids = try ref.floats("input_ids").map { Int($0) }
        let batch = try ref.entry("input_ids").shape
        let rows = (0..<batch[0]).map { Array(ids[$0 * batch[1] ..< ($0 + 1) * batch[1]]) }
        let out = noGrad { encoder.encode(rows) }
        expectClose(out.lastHiddenState.scalars, try ref.floats("last_hidden_state"), rtol: modelRtol, atol: modelAtol, "\(model) last_hidden_state")
        expectClose(out.penultimateHiddenState.scalars, try ref.floats("penultimate_hidden_state"), rtol: modelRtol, atol: modelAtol, "\(model) hidden_states[-2]")
        let normed = noGrad { encoder.finalLayerNorm(out.penultimateHiddenState) }
        expectClose(normed.scalars, try ref.floats("penultimate_normed"), rtol: modelRtol, atol: modelAtol, "\(model) final_layer_norm(hidden_states[-2])")
        expectClose(out.pooled.scalars, try ref.floats("pooler_output"), rtol: modelRtol, atol: modelAtol, "\(model) pooler_output")
        #expect(out.lastHiddenState.shape == [batch[0], batch[1], try tiny.textConfig().hiddenSize])
    }

    /// Gradient of <last_hidden_state, grad_out> w.r.t. the token embedding rows used,
    /// through the causal attention (what textual inversion trains), against PyTorch.
    @Test(arguments: TinyModel.names)
    func tokenEmbeddingGradientMatchesTransformers(model: String) throws {
        let tiny = TinyModel(name: model)
        let encoder = try tiny.textEncoder()
        let ref = try tiny.outputs("text_encoder")
        let ids = try ref.floats("input_ids").map { Int($0) }
        let l = try ref.entry("input_ids").shape[1]
        encoder.tokenEmbedding.requiresGrad = true
        let out = encoder.encode([Array(ids[0..<l]), Array(ids[l..<2 * l])]).lastHiddenState
        out.backward(gradient: try ref.tensor("grad_out"))
        let grad = try #require(encoder.tokenEmbedding.grad)
        let d = encoder.config.hiddenSize
        let rows = try ref.floats("grad_token_ids").map { Int($0) }
        let actual = rows.flatMap { Array(UnsafeBufferPointer(start: grad.data + $0 * d, count: d)) }
        // atol 1e-4 as for the UNet gradients: these are sums over 77 positions of O(1) terms.
        expectClose(actual, try ref.floats("grad_token_embedding"), rtol: 1e-4, atol: 1e-4, "\(model) dOut/dTokenEmbedding")
    }

    /// Appended token rows (textual inversion): a copy of vocabulary rows under new ids
    /// encodes exactly like the original ids; only the appended rows get a gradient.
    @Test func appendedTokenEmbeddings() throws {
        let encoder = try TinyModel(name: "sd1-tiny").textEncoder()
        let v = encoder.config.vocabSize, d = encoder.config.hiddenSize
        let original = [512, 40, 41, 42, 513, 513]
        let rows = noGrad { encoder.embed([[41, 42]]) }.copy().reshaped([2, d])
        rows.requiresGrad = true
        encoder.appendedTokenEmbeddings = rows
        let replaced = [512, 40, v, v + 1, 513, 513]
        let expected = noGrad { encoder.encode([original]) }.lastHiddenState.scalars
        let out = encoder.encode([replaced]).lastHiddenState
        #expect(out.scalars == expected)
        mean(out * out).backward()
        let grad = try #require(rows.grad)
        #expect(grad.shape == [2, d] && grad.scalars.contains { $0 != 0 })
        #expect(encoder.tokenEmbedding.grad == nil)
    }

    /// Checkpoints before transformers 5 (and every SD checkpoint people download) name the
    /// tensors "text_model.…": the same weights under that prefix give the same states.
    @Test func acceptsTextModelPrefix() throws {
        let tiny = TinyModel(name: "sd1-tiny")
        let file = try tiny.weights("text_encoder", file: "model.safetensors")
        var prefixed: [String: Tensor] = [:]
        for name in file.tensorNames { prefixed["text_model." + name] = try file.tensor(named: name)! }
        let eos = try tiny.config("text_encoder").int("eos_token_id")
        let encoder = try CLIPTextModel(config: try tiny.textConfig(), weights: InMemoryWeights(prefixed), endOfTextTokenID: eos)
        let ref = try tiny.outputs("text_encoder")
        let ids = try ref.floats("input_ids").map { Int($0) }
        let l = try ref.entry("input_ids").shape[1]
        let out = noGrad { encoder.encode([Array(ids[0..<l]), Array(ids[l..<2 * l])]) }
        expectClose(out.lastHiddenState.scalars, try ref.floats("last_hidden_state"), rtol: modelRtol, atol: modelAtol, "prefixed last_hidden_state")
        #expect(encoder.linearLayers.map(\.name).contains("encoder.layers.0.self_attn.q_proj"))
        #expect(encoder.linearLayers.count == 6 * (try tiny.textConfig().numHiddenLayers))
    }

    /// Gradients reach the token embeddings through the causal attention (textual inversion),
    /// and checkpointing each layer gives the same gradients.
    @Test func gradientsWithAndWithoutCheckpointing() throws {
        let tiny = TinyModel(name: "sd2-tiny")
        let encoder = try tiny.textEncoder()
        let ids = [[512] + Array(40..<50) + [513] + [Int](repeating: 0, count: 8)]
        var grads: [[Float]] = []
        for checkpointing in [false, true] {
            encoder.gradientCheckpointing = checkpointing
            let embeddings = noGrad { encoder.embed(ids) }.copy()
            embeddings.requiresGrad = true
            let out = encoder.encode(tokenEmbeddings: embeddings, ids: ids).lastHiddenState
            let weights = Tensor((0..<out.count).map { Float(($0 * 7919) % 13) / 13 - 0.5 }, shape: out.shape)
            mean(out * weights).backward()
            grads.append(try #require(embeddings.grad).scalars)
        }
        #expect(grads[0].contains { $0 != 0 })
        expectClose(grads[1], grads[0], rtol: 1e-5, atol: 1e-7, "checkpointed gradient")
        // Causal: the last tokens (padding after the end) do not influence earlier positions,
        // but every position gets some gradient from its own output.
        #expect(grads[0].suffix(32).contains { $0 != 0 })
    }
}

/// CLIPTextModelWithProjection (SDXL's second encoder's shape): text_projection of the state
/// pooled at the largest id (eos_token_id 2, the legacy rule), against transformers.
@Suite struct ModelTextProjectionTests {
    @Test func projectedPooledMatchesTransformers() throws {
        let folder = TinyModel.root.appendingPathComponent("clip-projection")
        let config = CLIPTextConfig(vocabSize: 600, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2,
                                    numAttentionHeads: 4, maxPositionEmbeddings: 77, hiddenAct: .gelu, projectionDim: 24)
        let encoder = try CLIPTextModel(config: config, weights: try SafeTensorsWeights(path: folder.appendingPathComponent("model.safetensors").path),
                                        endOfTextTokenID: nil)
        #expect(encoder.unusedTensorNames == [])
        #expect(encoder.linearLayers.contains { $0.name == "text_projection" })
        let ref = try TinyModel(name: "clip-projection").outputs("text_encoder")
        let ids = try ref.floats("input_ids").map { Int($0) }
        let out = noGrad { encoder.encode([Array(ids[0..<77]), Array(ids[77..<154])]) }
        expectClose(out.lastHiddenState.scalars, try ref.floats("last_hidden_state"), rtol: modelRtol, atol: modelAtol, "last_hidden_state")
        expectClose(out.penultimateHiddenState.scalars, try ref.floats("penultimate_hidden_state"), rtol: modelRtol, atol: modelAtol, "hidden_states[-2]")
        expectClose(try #require(out.projectedPooled).scalars, try ref.floats("text_embeds"), rtol: modelRtol, atol: modelAtol, "text_embeds")
    }
}
