import Testing
import TensorEngine
import TestSupport

// Forward and backward of each op against PyTorch (scripts/fixtures/engine_ops.py).
// Tolerances: rtol 1e-5 / atol 1e-6 for ops of a few terms per output; sums over many terms
// (GEMMs, norms, losses) get rtol 1e-4 / atol 1e-5, stated per test.

/// Runs `op` on the fixture's inputs, back-propagates `grad_out`, and compares `out` and
/// every `grad_<input>` the fixture holds.
private func checkOp(_ name: String, inputs: [String], nhwc: Bool = false, rtol: Float = 1e-5, atol: Float = 1e-6,
                     sourceLocation: SourceLocation = #_sourceLocation, _ op: ([Tensor]) -> Tensor) throws {
    let f = try opFixture(name)
    let ts = try inputs.map { try f.tensor($0, nhwc: nhwc && f.shape($0).count == 4, requiresGrad: f.has("grad_" + $0)) }
    let out = op(ts)
    let outNHWC = try nhwc && f.shape("out").count == 4
    expectClose(out.scalars, try f.values("out", nhwc: outNHWC), rtol: rtol, atol: atol, "\(name) out", sourceLocation: sourceLocation)
    out.backward(gradient: try f.tensor("grad_out", nhwc: outNHWC))
    for (input, t) in zip(inputs, ts) {
        if f.has("grad_" + input) {
            let g = try f.values("grad_" + input, nhwc: nhwc && f.shape(input).count == 4)
            expectClose(t.grad?.scalars ?? [], g, rtol: rtol, atol: atol, "\(name) grad_\(input)", sourceLocation: sourceLocation)
        } else {
            #expect(t.grad == nil, "\(name): frozen \(input) got a gradient", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct LinearFixtureTests {
    @Test(arguments: ["linear_2d", "linear_3d"])
    func linearLayer(name: String) throws {
        try checkOp(name, inputs: ["x", "weight", "bias"], rtol: 1e-4, atol: 1e-5) { linear($0[0], weight: $0[1], bias: $0[2]) }
    }

    @Test func linearWithLoRATrainsOnlyTheAdapter() throws {
        let scale = try opFixture("linear_lora").metaFloat("scale")
        try checkOp("linear_lora", inputs: ["x", "weight", "bias", "lora_down", "lora_up"], rtol: 1e-4, atol: 1e-5) {
            linear($0[0], weight: $0[1], bias: $0[2], lora: LoRA(down: $0[3], up: $0[4], scale: scale))
        }
    }

    @Test func matmulPlainBatchedAndShared() throws {
        try checkOp("matmul_2d", inputs: ["a", "b"], rtol: 1e-4, atol: 1e-5) { matmul($0[0], $0[1]) }
        try checkOp("matmul_batched", inputs: ["a", "b"], rtol: 1e-4, atol: 1e-5) { matmul($0[0], $0[1]) }
        try checkOp("matmul_batched_transpose_b", inputs: ["a", "b"], rtol: 1e-4, atol: 1e-5) { matmul($0[0], $0[1], transposeB: true) }
        try checkOp("matmul_shared_b", inputs: ["a", "b"], rtol: 1e-4, atol: 1e-5) { matmul($0[0], $0[1]) }
    }
}

@Suite struct ElementwiseFixtureTests {
    @Test func broadcastingAddSubMul() throws {
        try checkOp("add_same", inputs: ["a", "b"]) { $0[0] + $0[1] }
        try checkOp("add_bias", inputs: ["a", "b"]) { $0[0] + $0[1] }
        try checkOp("add_scalar", inputs: ["a", "b"]) { $0[0] + $0[1] }
        try checkOp("sub_bias", inputs: ["a", "b"]) { $0[0] - $0[1] }
        try checkOp("mul_same", inputs: ["a", "b"]) { $0[0] * $0[1] }
        try checkOp("mul_bias", inputs: ["a", "b"]) { $0[0] * $0[1] }
    }

    /// The UNet adds a per-sample, per-channel time embedding [N, C] over an NHWC map.
    @Test(arguments: ["add_time_embedding", "mul_time_embedding"])
    func timeEmbeddingBroadcastOverNHWC(name: String) throws {
        try checkOp(name, inputs: ["a", "b"], nhwc: true) { t in
            let emb = t[1].reshaped([t[1].shape[0], 1, 1, t[1].shape[1]])
            return name.hasPrefix("add") ? t[0] + emb : t[0] * emb
        }
    }

    @Test func scaleByConstant() throws {
        let factor = try opFixture("scale").metaFloat("factor")
        try checkOp("scale", inputs: ["x"]) { $0[0] * factor }
    }

    @Test func activations() throws {
        try checkOp("silu", inputs: ["x"]) { silu($0[0]) }
        try checkOp("gelu_erf", inputs: ["x"]) { gelu($0[0]) }
        try checkOp("gelu_tanh", inputs: ["x"]) { gelu($0[0], approximateTanh: true) }
        try checkOp("quick_gelu", inputs: ["x"]) { quickGELU($0[0]) }
        try checkOp("geglu", inputs: ["x"]) { geglu($0[0]) }
    }

    @Test func softmaxLastDimension() throws {
        try checkOp("softmax", inputs: ["x"]) { softmax($0[0]) }
        try checkOp("softmax_3d", inputs: ["x"]) { softmax($0[0]) }
    }
}

@Suite struct NormalizationFixtureTests {
    /// Sums over a group: rtol 1e-4, atol 1e-5.
    @Test(arguments: ["group_norm", "group_norm_wide"])
    func groupNormNHWC(name: String) throws {
        let f = try opFixture(name)
        let (groups, eps) = (try f.metaInt("groups"), try f.metaFloat("eps"))
        try checkOp(name, inputs: ["x", "weight", "bias"], nhwc: true, rtol: 1e-4, atol: 1e-5) {
            groupNorm($0[0], groups: groups, weight: $0[1], bias: $0[2], eps: eps)
        }
    }

    @Test func fusedGroupNormSiLU() throws {
        try checkOp("group_norm_silu", inputs: ["x", "weight", "bias"], nhwc: true, rtol: 1e-4, atol: 1e-5) {
            groupNorm($0[0], groups: 2, weight: $0[1], bias: $0[2], eps: 1e-5, silu: true)
        }
    }

    /// SD's 32 groups with SiLU fused, over 8x8 positions: rtol 1e-4, atol 1e-5.
    @Test func groupNormThirtyTwoGroupsSiLU() throws {
        try checkOp("group_norm_32_groups", inputs: ["x", "weight", "bias"], nhwc: true, rtol: 1e-4, atol: 1e-5) {
            groupNorm($0[0], groups: 32, weight: $0[1], bias: $0[2], eps: 1e-5, silu: true)
        }
    }

    @Test(arguments: ["layer_norm", "layer_norm_3d", "layer_norm_320"])
    func layerNormLastDimension(name: String) throws {
        try checkOp(name, inputs: ["x", "weight", "bias"], rtol: 1e-4, atol: 1e-5) {
            layerNorm($0[0], weight: $0[1], bias: $0[2], eps: 1e-5)
        }
    }
}

@Suite struct LossAndLookupFixtureTests {
    @Test func meanAndMSE() throws {
        try checkOp("mean", inputs: ["x"], rtol: 1e-5, atol: 1e-6) { mean($0[0]) }
        try checkOp("mse", inputs: ["prediction", "target"], rtol: 1e-5, atol: 1e-6) { mseLoss($0[0], $0[1]) }
    }

    @Test func minSNRWeightedMSE() throws {
        let weights = try opFixture("mse_weighted").meta("weights").split(separator: ",").map { Float($0)! }
        try checkOp("mse_weighted", inputs: ["prediction", "target"], rtol: 1e-5, atol: 1e-6) {
            weightedMSELoss($0[0], $0[1], sampleWeights: weights)
        }
    }

    @Test func embeddingGradientOnlyInUsedRows() throws {
        let f = try opFixture("embedding")
        let ids = try f.meta("ids").split(separator: ",").map { Int($0)! }
        try checkOp("embedding", inputs: ["table"]) { embedding($0[0], ids: ids) }
        // Rows never looked up have a zero gradient.
        let table = try f.tensor("table", requiresGrad: true)
        embedding(table, ids: ids).backward(gradient: try f.tensor("grad_out"))
        let d = table.shape[1]
        for row in 0..<table.shape[0] where !ids.contains(row) {
            #expect(table.grad!.scalars[(row * d)..<(row * d + d)].allSatisfy { $0 == 0 })
        }
    }

    /// Textual inversion: a frozen vocabulary plus trainable appended rows. Same values as one
    /// big table; the gradient reaches only the appended rows.
    @Test func appendedTrainableRows() throws {
        let f = try opFixture("embedding")
        let full = try f.tensor("table")                       // [10, 4]: treat rows 7..<10 as appended
        let vocab = Tensor(Array(full.scalars[0..<28]), shape: [7, 4])
        let added = Tensor(Array(full.scalars[28...]), shape: [3, 4]); added.requiresGrad = true
        let ids = try f.meta("ids").split(separator: ",").map { Int($0)! }
        let y = embedding(vocab, appended: added, ids: ids)
        expectClose(y.scalars, try f.floats("out"), "lookup across both tables")
        y.backward(gradient: try f.tensor("grad_out"))
        expectClose(added.grad!.scalars, Array(try f.floats("grad_table")[28...]), "appended rows' gradient")
        #expect(vocab.grad == nil)
    }

    /// sin/cos of arguments up to 999 in float32: atol 2e-5.
    @Test(arguments: ["timestep_embedding_sd", "timestep_embedding_odd"])
    func sinusoidalTimestepEmbedding(name: String) throws {
        let f = try opFixture(name)
        let emb = timestepEmbedding(try f.floats("timesteps"), dim: try f.metaInt("dim"),
                                    flipSinToCos: try f.meta("flip_sin_to_cos") == "True",
                                    downscaleFreqShift: try f.metaFloat("downscale_freq_shift"))
        #expect(emb.shape == (try f.shape("out")))
        expectClose(emb.scalars, try f.floats("out"), rtol: 1e-5, atol: 2e-5, "\(name) out")
    }
}

@Suite struct LayoutFixtureTests {
    @Test func nearestUpsampleNHWC() throws {
        try checkOp("upsample_nearest", inputs: ["x"], nhwc: true) { upsampleNearest2x($0[0]) }
    }

    @Test func concatAlongChannels() throws {
        try checkOp("concat_channels", inputs: ["a", "b"], nhwc: true) { concatLast([$0[0], $0[1]]) }
    }

    @Test func permuteForHeads() throws {
        let perm = try opFixture("permute_heads").meta("perm").split(separator: ",").map { Int($0)! }
        try checkOp("permute_heads", inputs: ["x"]) { $0[0].permuted(perm) }
    }
}
