// A single-file checkpoint in the original LDM layout: its configs inferred from tensor shapes
// (a sidecar may replace any inferred key, see CheckpointOptions), its tensors mapped to
// diffusers names by CheckpointNames.
//
// Inference rules (what SD 1.x/2.x files hold; what shapes cannot tell comes from the family):
//   - the family is SD 1.x when the text encoder is OpenAI CLIP (cond_stage_model.transformer.*),
//     SD 2.x when it is OpenCLIP (cond_stage_model.model.*);
//   - UNet: layers per block from where the first downsampler sits; channels per block from each
//     block's first resnet; a block has attention when input_blocks.{first}.1 exists;
//     cross_attention_dim from attn2.to_k's input width (768 SD 1.x, 1024 SD 2.x); linear
//     projection when proj_in is a matrix (SD 2.x) rather than a 1x1 conv (SD 1.x); heads:
//     8 per block for SD 1.x, 64-wide heads for SD 2.x (attention_head_dim = channels / 64);
//     norm groups 32;
//   - text encoder: sizes from the embeddings and the first layer, heads 64 wide; SD 1.x uses
//     quick_gelu and every layer, SD 2.x gelu and all but the last resblock (it reads the
//     penultimate layer);
//   - VAE: channels and depth from the encoder, latent channels from decoder.conv_in, norm
//     groups 32, scaling factor 0.18215;
//   - scheduler: SD's training schedule (scaled_linear 0.00085 → 0.012, 1000 steps), epsilon
//     unless told v_prediction.
import Foundation
import ModelIO

struct SingleFileCheckpoint {
    enum Family { case sd1, sd2 }

    let family: Family
    let unet: UNetConfig
    let vae: VAEConfig
    let textEncoder: CLIPTextConfig
    let scheduler: SchedulerConfig
    let weights: [CheckpointComponent: CheckpointWeights]

    init(path: String, options: CheckpointOptions) throws {
        let files = try TensorFiles(path: path)
        let names = files.tensors.keys
        func shape(_ n: String) -> [Int]? { files.tensors[n]?.shape }
        func require(_ n: String, rank: Int? = nil) throws -> [Int] {
            guard let s = shape(n) else { throw CheckpointError.missingTensor(path: path, name: n) }
            if let rank, s.count != rank { throw CheckpointError.unexpectedShape(path: path, name: n, shape: s, expected: "\(rank) dimensions") }
            return s
        }
        func has(prefix: String) -> Bool { names.contains { $0.hasPrefix(prefix) } }

        if has(prefix: "conditioner.embedders.") || shape("model.diffusion_model.label_emb.0.0.weight") != nil {
            throw CheckpointError.unsupportedConfig(path: path, key: "conditioner.embedders", value: "(SDXL text encoders)",
                                                    reason: "SDXL is not supported yet")
        }
        let u = CheckpointNames.unetPrefix, v = CheckpointNames.vaePrefix
        for (prefix, what) in [(u, "a UNet"), (v, "a VAE")] where !has(prefix: prefix) {
            throw CheckpointError.notACheckpoint(path: path, reason: "no \(prefix)* tensors (\(what)); expected the original LDM single-file layout of SD 1.x/2.x")
        }
        let clip = CheckpointNames.clipPrefix, openCLIP = CheckpointNames.openCLIPPrefix
        if has(prefix: clip) { family = .sd1 } else if has(prefix: openCLIP) { family = .sd2 } else {
            throw CheckpointError.notACheckpoint(path: path, reason: "no text encoder (\(clip)* or \(openCLIP)*)")
        }
        let sidecar = try SingleFileSidecar.find(for: path, explicit: options.sidecarPath)

        // UNet
        let inputIndices = Set(names.compactMap { n in n.dropPrefix(u + "input_blocks.").flatMap { Int($0.prefix { $0 != "." }) } })
        let downsamplers = inputIndices.sorted().filter { shape("\(u)input_blocks.\($0).0.op.weight") != nil }
        let L = (downsamplers.first ?? (inputIndices.max() ?? 0) + 1) - 1
        guard L >= 1 else { throw CheckpointError.missingTensor(path: path, name: "\(u)input_blocks.1.0.in_layers.0.weight") }
        let levels = downsamplers.count + 1
        var channels: [Int] = [], down: [String] = [], up: [String] = [], depth: [Int] = []
        var crossDim: Int?, linear: Bool?
        for b in 0..<levels {
            let first = 1 + b * (L + 1)
            channels.append(try require("\(u)input_blocks.\(first).0.out_layers.3.weight", rank: 4)[0])
            let attn = "\(u)input_blocks.\(first).1."
            let blocks = Set(names.compactMap { $0.dropPrefix(attn + "transformer_blocks.").flatMap { Int($0.prefix { $0 != "." }) } })
            down.append(blocks.isEmpty ? "DownBlock2D" : "CrossAttnDownBlock2D")
            depth.append(max(1, blocks.count))
            if !blocks.isEmpty {
                let k = try require(attn + "transformer_blocks.0.attn2.to_k.weight", rank: 2)
                crossDim = crossDim ?? k[1]
                linear = try require(attn + "proj_in.weight").count == 2
            }
            let upAttn = names.contains { $0.hasPrefix("\(u)output_blocks.\((levels - 1 - b) * (L + 1)).1.") && !$0.contains(".1.conv.") }
            up.insert(upAttn ? "CrossAttnUpBlock2D" : "UpBlock2D", at: 0)
        }
        // Every cross-attention takes the same context width.
        for name in names.sorted() where name.hasPrefix(u) && (name.hasSuffix("attn2.to_k.weight") || name.hasSuffix("attn2.to_v.weight")) {
            let s = shape(name)!
            if let crossDim, s.count != 2 || s[1] != crossDim {
                throw CheckpointError.unexpectedShape(path: path, name: name, shape: s, expected: "[\(s[0]), \(crossDim)] (cross_attention_dim \(crossDim))")
            }
        }
        let conv_in = try require("\(u)input_blocks.0.0.weight", rank: 4)
        let conv_out = try require("\(u)out.2.weight", rank: 4)
        let timeDim = try require("\(u)time_embed.0.weight", rank: 2)[0]
        var unetJSON: [String: JSONValue] = [
            "in_channels": .number(Double(conv_in[1])), "out_channels": .number(Double(conv_out[0])),
            "block_out_channels": .array(channels.map { .number(Double($0)) }),
            "layers_per_block": .number(Double(L)),
            "down_block_types": .array(down.map { .string($0) }), "up_block_types": .array(up.map { .string($0) }),
            "cross_attention_dim": .number(Double(crossDim ?? 768)),
            "use_linear_projection": .bool(linear ?? false),
            "transformer_layers_per_block": .array(depth.map { .number(Double($0)) }),
            "attention_head_dim": family == .sd1 ? .number(8) : .array(channels.map { .number(Double($0 / 64)) }),
            "norm_num_groups": .number(32),
            "upcast_attention": .bool(false),
        ]
        if timeDim != 4 * channels[0] { unetJSON["time_embedding_dim"] = .number(Double(timeDim)) }
        if !has(prefix: u + "middle_block.") { unetJSON["mid_block_type"] = .null }
        if family == .sd2, channels.contains(where: { $0 % 64 != 0 }), sidecar.overrides["unet"]?["attention_head_dim"] == nil,
           sidecar.overrides["unet"]?["num_attention_heads"] == nil {
            throw CheckpointError.unsupportedConfig(path: path, key: "block_out_channels", value: "\(channels)",
                reason: "SD 2.x uses 64-wide attention heads, which do not divide these channels; give \"unet\": {\"attention_head_dim\": [...]} in a sidecar \(((path as NSString).deletingPathExtension as NSString).lastPathComponent).json")
        }
        if let up = options.upcastAttention ?? sidecar.upcastAttention { unetJSON["upcast_attention"] = .bool(up) }
        let unetSource = "\(path) (UNet inferred from model.diffusion_model.*)"
        unet = try UNetConfig(json: .object(unetJSON.merging(sidecar.overrides["unet"] ?? [:]) { $1 }), path: unetSource)

        // Text encoder
        let te: String
        var teJSON: [String: JSONValue] = [:]
        var resblocks: Int?
        if family == .sd1 {
            te = names.contains { $0.hasPrefix(clip + "text_model.") } ? clip + "text_model." : clip
            let tokens = try require(te + "embeddings.token_embedding.weight", rank: 2)
            let positions = try require(te + "embeddings.position_embedding.weight", rank: 2)
            let layers = Set(names.compactMap { $0.dropPrefix(te + "encoder.layers.").flatMap { Int($0.prefix { $0 != "." }) } })
            let fc1 = try require(te + "encoder.layers.0.mlp.fc1.weight", rank: 2)
            teJSON = ["vocab_size": .number(Double(tokens[0])), "hidden_size": .number(Double(tokens[1])),
                      "max_position_embeddings": .number(Double(positions[0])), "num_hidden_layers": .number(Double(layers.count)),
                      "intermediate_size": .number(Double(fc1[0])), "num_attention_heads": .number(Double(max(1, tokens[1] / 64))),
                      "hidden_act": .string("quick_gelu")]
        } else {
            te = openCLIP
            let tokens = try require(te + "token_embedding.weight", rank: 2)
            let positions = try require(te + "positional_embedding", rank: 2)
            let blocks = Set(names.compactMap { $0.dropPrefix(te + "transformer.resblocks.").flatMap { Int($0.prefix { $0 != "." }) } })
            guard blocks.count >= 2 else { throw CheckpointError.missingTensor(path: path, name: te + "transformer.resblocks.1.ln_1.weight") }
            let fc = try require(te + "transformer.resblocks.0.mlp.c_fc.weight", rank: 2)
            let inProj = try require(te + "transformer.resblocks.0.attn.in_proj_weight", rank: 2)
            if inProj != [3 * tokens[1], tokens[1]] {
                throw CheckpointError.unexpectedShape(path: path, name: te + "transformer.resblocks.0.attn.in_proj_weight", shape: inProj,
                                                      expected: "[\(3 * tokens[1]), \(tokens[1])] (q, k and v stacked)")
            }
            resblocks = blocks.count
            teJSON = ["vocab_size": .number(Double(tokens[0])), "hidden_size": .number(Double(tokens[1])),
                      "max_position_embeddings": .number(Double(positions[0])), "num_hidden_layers": .number(Double(blocks.count - 1)),
                      "intermediate_size": .number(Double(fc[0])), "num_attention_heads": .number(Double(max(1, tokens[1] / 64))),
                      "hidden_act": .string("gelu")]
        }
        textEncoder = try CLIPTextConfig(json: .object(teJSON.merging(sidecar.overrides["text_encoder"] ?? [:]) { $1 }),
                                         path: "\(path) (text encoder inferred from \(te)*)")

        // VAE
        let vaeLevels = Set(names.compactMap { $0.dropPrefix(v + "encoder.down.").flatMap { Int($0.prefix { $0 != "." }) } }).count
        let perLevel = Set(names.compactMap { $0.dropPrefix(v + "encoder.down.0.block.").flatMap { Int($0.prefix { $0 != "." }) } }).count
        var vaeChannels: [Int] = []
        for i in 0..<vaeLevels { vaeChannels.append(try require("\(v)encoder.down.\(i).block.0.conv1.weight", rank: 4)[0]) }
        let vaeIn = try require(v + "encoder.conv_in.weight", rank: 4)
        let vaeOut = try require(v + "decoder.conv_out.weight", rank: 4)
        let latent = try require(v + "decoder.conv_in.weight", rank: 4)
        let vaeJSON: [String: JSONValue] = [
            "in_channels": .number(Double(vaeIn[1])), "out_channels": .number(Double(vaeOut[0])),
            "block_out_channels": .array(vaeChannels.map { .number(Double($0)) }),
            "layers_per_block": .number(Double(perLevel)), "latent_channels": .number(Double(latent[1])),
            "norm_num_groups": .number(32), "scaling_factor": .number(0.18215),
            "use_quant_conv": .bool(shape(v + "quant_conv.weight") != nil),
            "use_post_quant_conv": .bool(shape(v + "post_quant_conv.weight") != nil),
            "mid_block_add_attention": .bool(has(prefix: v + "encoder.mid.attn_1.")),
        ]
        vae = try VAEConfig(json: .object(vaeJSON.merging(sidecar.overrides["vae"] ?? [:]) { $1 }), path: "\(path) (VAE inferred from first_stage_model.*)")

        // Scheduler: SD's training schedule.
        var sched = SchedulerConfig()
        if let o = sidecar.overrides["scheduler"] {
            var base: [String: JSONValue] = ["beta_start": .number(0.00085), "beta_end": .number(0.012), "beta_schedule": .string("scaled_linear"),
                                             "steps_offset": .number(1), "set_alpha_to_one": .bool(false), "clip_sample": .bool(false)]
            base.merge(o) { $1 }
            sched = try SchedulerConfig(json: .object(base), path: "\(path) sidecar \"scheduler\"")
        }
        if let p = options.predictionType ?? sidecar.predictionType { sched.predictionType = p }
        scheduler = sched

        // Every tensor mapped or known to be unused.
        let layout = LDMLayout(unetLayersPerBlock: L, vaeLevels: vaeLevels, openCLIPResblocks: resblocks)
        var recipes: [CheckpointComponent: [String: CheckpointWeights.Recipe]] = [:]
        for name in files.tensors.keys.sorted() {
            switch CheckpointNames.map(name, layout: layout) {
            case .skipped: continue
            case .unknown: throw CheckpointError.unknownTensor(path: path, name: name)
            case .mapped(let targets):
                for t in targets {
                    let stored = files.tensors[name]!
                    if case .thirdOfRows = t.transform, stored.shape.first.map({ $0 % 3 != 0 }) ?? true {
                        throw CheckpointError.unexpectedShape(path: path, name: name, shape: stored.shape, expected: "a first dimension divisible by 3 (q, k, v)")
                    }
                    recipes[t.component, default: [:]][t.name] = .init(stored: stored, transform: t.transform)
                }
            }
        }
        var w: [CheckpointComponent: CheckpointWeights] = [:]
        for c in CheckpointComponent.allCases { w[c] = CheckpointWeights(component: c, recipes: recipes[c] ?? [:]) }
        weights = w
    }
}
