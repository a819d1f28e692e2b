// Random weights with the shapes of SD 1.5's UNet and VAE, for `dropbooth bench unet`.
//
// No checkpoint can be assumed on a benchmark machine, and timing does not depend on the
// values, only on the shapes. The shape table mirrors diffusers' parameter names for a
// config (the same names the model reads); any name the table gets wrong is learnt from the
// model's own WeightError and the build retried, so the table cannot silently drift from
// the models. Values are uniform in ±1/√fan-in (norm scales near 1), which keeps
// activations in a normal range through the ~100 layers: no overflow, no denormals.

import Diffusion
import Foundation
import TensorEngine

/// Tensors made on demand (never kept: the model holds the only copy) from a name → shape table.
/// `storedAs` makes it act as a checkpoint saved in that half format (as most SD 1.5 downloads
/// are float16): layers then keep their weights in it (LayerWeightStorage).
final class RandomWeights: WeightSource, @unchecked Sendable {
    var shapes: [String: [Int]]
    let storedAs: HalfTensor.Format?
    private var seed: UInt64 = 0x5EED

    init(shapes: [String: [Int]], storedAs: HalfTensor.Format? = nil) { self.shapes = shapes; self.storedAs = storedAs }

    var tensorNames: [String] { Array(shapes.keys) }
    func contains(_ name: String) -> Bool { shapes[name] != nil }
    func storedHalfFormat(of name: String) -> HalfTensor.Format? { storedAs }

    func tensor(named name: String) throws -> Tensor? {
        guard let shape = shapes[name] else { return nil }
        let t = Tensor(uninitializedShape: shape)
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
        let isNormScale = shape.count == 1 && name.hasSuffix(".weight")
        let bound: Float = shape.count == 1 ? 0.05 : 1 / Float(fanIn).squareRoot()
        seed &+= 0x9E37_79B9_7F4A_7C15
        fillUniform(t.data, count: t.count, seed: seed, bound: bound, offset: isNormScale ? 1 : 0)
        return t
    }
}

/// x ∈ offset ± bound from a per-chunk xorshift generator (fast; quality is irrelevant here).
private func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, seed: UInt64, bound: Float, offset: Float) {
    parallelChunks(count, minimumPerThread: 1 << 16) { range in
        var s = seed ^ (UInt64(range.lowerBound) &* 0xBF58_476D_1CE4_E5B9) | 1
        let scale = 2 * bound / Float(1 << 24)
        for i in range {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            p[i] = Float(s >> 40) * scale - bound + offset
        }
    }
}

/// Builds a model from random weights, learning any shape the table missed from the
/// model's WeightError (a handful of retries at most).
func buildWithRandomWeights<Model>(_ shapes: [String: [Int]], storedAs: HalfTensor.Format? = nil,
                                   _ make: (RandomWeights) throws -> Model) throws -> Model {
    let source = RandomWeights(shapes: shapes, storedAs: storedAs)
    for _ in 0..<64 {
        do {
            return try make(source)
        } catch WeightError.missing(let name, let shape) {
            source.shapes[name] = shape
        } catch WeightError.wrongShape(let name, let expected, _) {
            source.shapes[name] = expected
        }
    }
    return try make(source)
}

/// diffusers' parameter names and PyTorch-layout shapes for a UNet2DConditionModel config.
func unetParameterShapes(_ c: UNetConfig) -> [String: [Int]] {
    var s: [String: [Int]] = [:]
    func linear(_ p: String, _ inF: Int, _ outF: Int, bias: Bool = true) {
        s[p + ".weight"] = [outF, inF]
        if bias { s[p + ".bias"] = [outF] }
    }
    func conv(_ p: String, _ inC: Int, _ outC: Int, _ k: Int) {
        s[p + ".weight"] = [outC, inC, k, k]; s[p + ".bias"] = [outC]
    }
    func norm(_ p: String, _ ch: Int) { s[p + ".weight"] = [ch]; s[p + ".bias"] = [ch] }
    func resnet(_ p: String, _ inC: Int, _ outC: Int, temb: Int?) {
        norm(p + ".norm1", inC); conv(p + ".conv1", inC, outC, 3)
        if let temb { linear(p + ".time_emb_proj", temb, outC) }
        norm(p + ".norm2", outC); conv(p + ".conv2", outC, outC, 3)
        if inC != outC { conv(p + ".conv_shortcut", inC, outC, 1) }
    }
    func transformer(_ p: String, _ ch: Int, layers: Int) {
        norm(p + ".norm", ch)
        if c.useLinearProjection { linear(p + ".proj_in", ch, ch); linear(p + ".proj_out", ch, ch) } else {
            conv(p + ".proj_in", ch, ch, 1); conv(p + ".proj_out", ch, ch, 1)
        }
        for l in 0..<layers {
            let b = p + ".transformer_blocks.\(l)"
            for n in ["norm1", "norm2", "norm3"] { norm(b + "." + n, ch) }
            for (a, kv) in [("attn1", ch), ("attn2", c.crossAttentionDim)] {
                linear(b + ".\(a).to_q", ch, ch, bias: false)
                linear(b + ".\(a).to_k", kv, ch, bias: false)
                linear(b + ".\(a).to_v", kv, ch, bias: false)
                linear(b + ".\(a).to_out.0", ch, ch)
            }
            linear(b + ".ff.net.0.proj", ch, 8 * ch)
            linear(b + ".ff.net.2", 4 * ch, ch)
        }
    }
    let ch = c.blockOutChannels, n = ch.count, t = c.timeEmbedDim
    linear("time_embedding.linear_1", ch[0], t)
    linear("time_embedding.linear_2", t, t)
    conv("conv_in", c.inChannels, ch[0], 3)
    for i in 0..<n {
        for j in 0..<c.layersPerBlock[i] {
            resnet("down_blocks.\(i).resnets.\(j)", j == 0 ? ch[max(i - 1, 0)] : ch[i], ch[i], temb: t)
            if c.downBlockTypes[i] == "CrossAttnDownBlock2D" {
                transformer("down_blocks.\(i).attentions.\(j)", ch[i], layers: c.transformerLayersPerBlock[i])
            }
        }
        if i < n - 1 { conv("down_blocks.\(i).downsamplers.0.conv", ch[i], ch[i], 3) }
    }
    if c.midBlockType != nil {
        for j in 0..<2 { resnet("mid_block.resnets.\(j)", ch[n - 1], ch[n - 1], temb: t) }
        transformer("mid_block.attentions.0", ch[n - 1], layers: c.transformerLayersPerBlock[n - 1])
    }
    let reversed = Array(ch.reversed())
    for i in 0..<n {
        let layers = Array(c.layersPerBlock.reversed())[i] + 1
        for j in 0..<layers {
            let hIn = j == 0 ? reversed[max(i - 1, 0)] : reversed[i]
            let skip = j == layers - 1 ? reversed[min(i + 1, n - 1)] : reversed[i]
            resnet("up_blocks.\(i).resnets.\(j)", hIn + skip, reversed[i], temb: t)
            if c.upBlockTypes[i] == "CrossAttnUpBlock2D" {
                transformer("up_blocks.\(i).attentions.\(j)", reversed[i], layers: c.transformerLayersPerBlock[n - 1 - i])
            }
        }
        if i < n - 1 { conv("up_blocks.\(i).upsamplers.0.conv", reversed[i], reversed[i], 3) }
    }
    norm("conv_norm_out", ch[0])
    conv("conv_out", ch[0], c.outChannels, 3)
    return s
}

/// diffusers' parameter names and shapes for an AutoencoderKL config.
func vaeParameterShapes(_ c: VAEConfig) -> [String: [Int]] {
    var s: [String: [Int]] = [:]
    func conv(_ p: String, _ inC: Int, _ outC: Int, _ k: Int) {
        s[p + ".weight"] = [outC, inC, k, k]; s[p + ".bias"] = [outC]
    }
    func norm(_ p: String, _ ch: Int) { s[p + ".weight"] = [ch]; s[p + ".bias"] = [ch] }
    func resnet(_ p: String, _ inC: Int, _ outC: Int) {
        norm(p + ".norm1", inC); conv(p + ".conv1", inC, outC, 3)
        norm(p + ".norm2", outC); conv(p + ".conv2", outC, outC, 3)
        if inC != outC { conv(p + ".conv_shortcut", inC, outC, 1) }
    }
    func mid(_ p: String, _ ch: Int) {
        for j in 0..<2 { resnet(p + ".resnets.\(j)", ch, ch) }
        norm(p + ".attentions.0.group_norm", ch)
        for proj in ["to_q", "to_k", "to_v", "to_out.0"] {
            s[p + ".attentions.0.\(proj).weight"] = [ch, ch]; s[p + ".attentions.0.\(proj).bias"] = [ch]
        }
    }
    let ch = c.blockOutChannels, n = ch.count, l = c.latentChannels
    conv("encoder.conv_in", c.inChannels, ch[0], 3)
    for i in 0..<n {
        for j in 0..<c.layersPerBlock { resnet("encoder.down_blocks.\(i).resnets.\(j)", j == 0 ? ch[max(i - 1, 0)] : ch[i], ch[i]) }
        if i < n - 1 { conv("encoder.down_blocks.\(i).downsamplers.0.conv", ch[i], ch[i], 3) }
    }
    mid("encoder.mid_block", ch[n - 1])
    norm("encoder.conv_norm_out", ch[n - 1])
    conv("encoder.conv_out", ch[n - 1], 2 * l, 3)
    conv("quant_conv", 2 * l, 2 * l, 1)
    conv("post_quant_conv", l, l, 1)
    let reversed = Array(ch.reversed())
    conv("decoder.conv_in", l, reversed[0], 3)
    mid("decoder.mid_block", reversed[0])
    for i in 0..<n {
        for j in 0...c.layersPerBlock {
            resnet("decoder.up_blocks.\(i).resnets.\(j)", j == 0 ? reversed[max(i - 1, 0)] : reversed[i], reversed[i])
        }
        if i < n - 1 { conv("decoder.up_blocks.\(i).upsamplers.0.conv", reversed[i], reversed[i], 3) }
    }
    norm("decoder.conv_norm_out", ch[0])
    conv("decoder.conv_out", ch[0], c.outChannels, 3)
    return s
}
