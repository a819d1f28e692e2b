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
        let file = LDMShapes(path: path, files: try TensorFiles(path: path))
        if file.has(prefix: "conditioner.embedders.") || file.shape("model.diffusion_model.label_emb.0.0.weight") != nil {
            throw CheckpointError.unsupportedConfig(path: path, key: "conditioner.embedders", value: "(SDXL text encoders)",
                                                    reason: "SDXL is not supported yet")
        }
        for (prefix, what) in [(CheckpointNames.unetPrefix, "a UNet"), (CheckpointNames.vaePrefix, "a VAE")] where !file.has(prefix: prefix) {
            throw CheckpointError.notACheckpoint(path: path, reason: "no \(prefix)* tensors (\(what)); expected the original LDM single-file layout of SD 1.x/2.x")
        }
        if file.has(prefix: CheckpointNames.clipPrefix) { family = .sd1 } else if file.has(prefix: CheckpointNames.openCLIPPrefix) { family = .sd2 } else {
            throw CheckpointError.notACheckpoint(path: path, reason: "no text encoder (\(CheckpointNames.clipPrefix)* or \(CheckpointNames.openCLIPPrefix)*)")
        }
        let sidecar = try SingleFileSidecar.find(for: path, explicit: options.sidecarPath)
        func merged(_ inferred: [String: JSONValue], _ component: String) -> JSONValue {
            .object(inferred.merging(sidecar.overrides[component] ?? [:]) { $1 })
        }

        let headsGiven = sidecar.overrides["unet"]?["attention_head_dim"] != nil || sidecar.overrides["unet"]?["num_attention_heads"] != nil
        let inferredUNet = try Self.inferUNet(file, family: family, headsGiven: headsGiven)
        var unetJSON = inferredUNet.json
        if let up = options.upcastAttention ?? sidecar.upcastAttention { unetJSON["upcast_attention"] = .bool(up) }
        unet = try UNetConfig(json: merged(unetJSON, "unet"), path: "\(path) (UNet inferred from \(CheckpointNames.unetPrefix)*)")

        let (textJSON, textPrefix, resblocks) = try Self.inferTextEncoder(file, family: family)
        textEncoder = try CLIPTextConfig(json: merged(textJSON, "text_encoder"), path: "\(path) (text encoder inferred from \(textPrefix)*)")

        let (vaeJSON, vaeLevels) = try Self.inferVAE(file)
        vae = try VAEConfig(json: merged(vaeJSON, "vae"), path: "\(path) (VAE inferred from \(CheckpointNames.vaePrefix)*)")

        // SD's training schedule; a sidecar may change it. The keys are those of
        // `SchedulerConfig.stableDiffusion` where it differs from diffusers' defaults.
        var sched = SchedulerConfig.stableDiffusion
        if sidecar.overrides["scheduler"] != nil {
            let sd: [String: JSONValue] = ["beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1,
                                           "set_alpha_to_one": false, "clip_sample": false, "skip_prk_steps": true]
            sched = try SchedulerConfig(json: merged(sd, "scheduler"), path: "\(path) sidecar \"scheduler\"")
        }
        if let p = options.predictionType ?? sidecar.predictionType { sched.predictionType = p }
        scheduler = sched

        // The file's own numbering, whatever a sidecar says.
        weights = try Self.mapTensors(file, layout: LDMLayout(unetLayersPerBlock: inferredUNet.layersPerBlock, vaeLevels: vaeLevels, openCLIPResblocks: resblocks))
    }

    /// Every tensor mapped to its component and diffusers name, or known to be unused.
    static func mapTensors(_ file: LDMShapes, layout: LDMLayout) throws -> [CheckpointComponent: CheckpointWeights] {
        var recipes: [CheckpointComponent: [String: CheckpointWeights.Recipe]] = [:]
        for name in file.files.tensors.keys.sorted() {
            switch CheckpointNames.map(name, layout: layout) {
            case .skipped: continue
            case .unknown: throw CheckpointError.unknownTensor(path: file.path, name: name)
            case .mapped(let targets):
                let stored = file.files.tensors[name]!
                for t in targets {
                    if case .thirdOfRows = t.transform, stored.shape.first.map({ $0 % 3 != 0 }) ?? true {
                        throw CheckpointError.unexpectedShape(path: file.path, name: name, shape: stored.shape, expected: "a first dimension divisible by 3 (q, k, v)")
                    }
                    recipes[t.component, default: [:]][t.name] = .init(stored: stored, transform: t.transform)
                }
            }
        }
        var weights: [CheckpointComponent: CheckpointWeights] = [:]
        for c in CheckpointComponent.allCases { weights[c] = CheckpointWeights(component: c, recipes: recipes[c] ?? [:]) }
        return weights
    }

    // MARK: UNet

    /// `headsGiven`: a sidecar names the heads, so the family's rule need not fit.
    static func inferUNet(_ f: LDMShapes, family: Family, headsGiven: Bool) throws -> (json: [String: JSONValue], layersPerBlock: Int) {
        let u = CheckpointNames.unetPrefix
        let inputIndices = f.indices(after: u + "input_blocks.")
        let downsamplers = inputIndices.sorted().filter { f.shape("\(u)input_blocks.\($0).0.op.weight") != nil }
        // The first downsampler follows the first block's L resnets (input_blocks.0 is conv_in).
        let L = (downsamplers.first ?? (inputIndices.max() ?? 0) + 1) - 1
        guard L >= 1 else { throw CheckpointError.missingTensor(path: f.path, name: "\(u)input_blocks.1.0.in_layers.0.weight") }
        let levels = downsamplers.count + 1
        var channels: [Int] = [], down: [String] = [], up: [String] = [], depth: [Int] = []
        var crossDim: Int?, linear: Bool?
        for b in 0..<levels {
            let first = 1 + b * (L + 1)
            channels.append(try f.require("\(u)input_blocks.\(first).0.out_layers.3.weight", rank: 4)[0])
            let attn = "\(u)input_blocks.\(first).1."
            let blocks = f.indices(after: attn + "transformer_blocks.")
            down.append(blocks.isEmpty ? "DownBlock2D" : "CrossAttnDownBlock2D")
            depth.append(max(1, blocks.count))
            if !blocks.isEmpty {
                crossDim = try crossDim ?? f.require(attn + "transformer_blocks.0.attn2.to_k.weight", rank: 2)[1]
                linear = try f.require(attn + "proj_in.weight").count == 2
            }
            let upFirst = "\(u)output_blocks.\((levels - 1 - b) * (L + 1)).1."
            let upAttn = f.names.contains { $0.hasPrefix(upFirst) && !$0.hasPrefix(upFirst + "conv.") }
            up.insert(upAttn ? "CrossAttnUpBlock2D" : "UpBlock2D", at: 0)
        }
        // Every cross-attention takes the same context width.
        if let crossDim {
            for name in f.names.sorted() where name.hasPrefix(u) && (name.hasSuffix("attn2.to_k.weight") || name.hasSuffix("attn2.to_v.weight")) {
                let s = f.shape(name)!
                if s.count != 2 || s[1] != crossDim {
                    throw CheckpointError.unexpectedShape(path: f.path, name: name, shape: s, expected: "[\(s[0]), \(crossDim)] (cross_attention_dim \(crossDim))")
                }
            }
        }
        if family == .sd2, !headsGiven, channels.contains(where: { $0 % 64 != 0 }) {
            let sidecar = ((f.path as NSString).deletingPathExtension as NSString).lastPathComponent + ".json"
            throw CheckpointError.unsupportedConfig(path: f.path, key: "block_out_channels", value: "\(channels)",
                reason: "SD 2.x uses 64-wide attention heads, which do not divide these channels; give \"unet\": {\"attention_head_dim\": [...]} in a sidecar \(sidecar)")
        }
        let convIn = try f.require("\(u)input_blocks.0.0.weight", rank: 4)
        let convOut = try f.require("\(u)out.2.weight", rank: 4)
        let timeDim = try f.require("\(u)time_embed.0.weight", rank: 2)[0]
        var json: [String: JSONValue] = [
            "in_channels": .int(convIn[1]), "out_channels": .int(convOut[0]),
            "block_out_channels": .ints(channels), "layers_per_block": .int(L),
            "down_block_types": .array(down.map { .string($0) }), "up_block_types": .array(up.map { .string($0) }),
            "cross_attention_dim": .int(crossDim ?? 768), "use_linear_projection": .bool(linear ?? false),
            "transformer_layers_per_block": .ints(depth),
            // SD 1.x: 8 heads per block; SD 2.x: 64-wide heads (num_head_channels: 64).
            "attention_head_dim": family == .sd1 ? .int(8) : .ints(channels.map { $0 / 64 }),
            "norm_num_groups": .int(32), "upcast_attention": .bool(false),
        ]
        if timeDim != 4 * channels[0] { json["time_embedding_dim"] = .int(timeDim) }
        if !f.has(prefix: u + "middle_block.") { json["mid_block_type"] = .null }
        return (json, L)
    }

    // MARK: Text encoder

    static func inferTextEncoder(_ f: LDMShapes, family: Family) throws -> (json: [String: JSONValue], prefix: String, openCLIPResblocks: Int?) {
        if family == .sd1 {
            let clip = CheckpointNames.clipPrefix
            let te = f.has(prefix: clip + "text_model.") ? clip + "text_model." : clip
            let tokens = try f.require(te + "embeddings.token_embedding.weight", rank: 2)
            let positions = try f.require(te + "embeddings.position_embedding.weight", rank: 2)
            let fc1 = try f.require(te + "encoder.layers.0.mlp.fc1.weight", rank: 2)
            return (["vocab_size": .int(tokens[0]), "hidden_size": .int(tokens[1]), "max_position_embeddings": .int(positions[0]),
                     "num_hidden_layers": .int(f.indices(after: te + "encoder.layers.").count), "intermediate_size": .int(fc1[0]),
                     "num_attention_heads": .int(max(1, tokens[1] / 64)), "hidden_act": .string("quick_gelu")], te, nil)
        }
        let te = CheckpointNames.openCLIPPrefix
        let tokens = try f.require(te + "token_embedding.weight", rank: 2)
        let positions = try f.require(te + "positional_embedding", rank: 2)
        let blocks = f.indices(after: te + "transformer.resblocks.")
        guard blocks.count >= 2 else { throw CheckpointError.missingTensor(path: f.path, name: te + "transformer.resblocks.1.ln_1.weight") }
        let fc = try f.require(te + "transformer.resblocks.0.mlp.c_fc.weight", rank: 2)
        let inProjName = te + "transformer.resblocks.0.attn.in_proj_weight"
        let inProj = try f.require(inProjName, rank: 2)
        if inProj != [3 * tokens[1], tokens[1]] {
            throw CheckpointError.unexpectedShape(path: f.path, name: inProjName, shape: inProj, expected: "[\(3 * tokens[1]), \(tokens[1])] (q, k and v stacked)")
        }
        // SD 2.x conditions on the penultimate resblock's output: the last one never runs.
        return (["vocab_size": .int(tokens[0]), "hidden_size": .int(tokens[1]), "max_position_embeddings": .int(positions[0]),
                 "num_hidden_layers": .int(blocks.count - 1), "intermediate_size": .int(fc[0]),
                 "num_attention_heads": .int(max(1, tokens[1] / 64)), "hidden_act": .string("gelu")], te, blocks.count)
    }

    // MARK: VAE

    static func inferVAE(_ f: LDMShapes) throws -> (json: [String: JSONValue], levels: Int) {
        let v = CheckpointNames.vaePrefix
        let levels = f.indices(after: v + "encoder.down.").count
        let channels = try (0..<levels).map { try f.require("\(v)encoder.down.\($0).block.0.conv1.weight", rank: 4)[0] }
        let imageIn = try f.require(v + "encoder.conv_in.weight", rank: 4)
        let imageOut = try f.require(v + "decoder.conv_out.weight", rank: 4)
        let latentIn = try f.require(v + "decoder.conv_in.weight", rank: 4)
        return (["in_channels": .int(imageIn[1]), "out_channels": .int(imageOut[0]), "block_out_channels": .ints(channels),
                 "layers_per_block": .int(f.indices(after: v + "encoder.down.0.block.").count), "latent_channels": .int(latentIn[1]),
                 "norm_num_groups": .int(32), "scaling_factor": .number(0.18215),
                 "use_quant_conv": .bool(f.shape(v + "quant_conv.weight") != nil),
                 "use_post_quant_conv": .bool(f.shape(v + "post_quant_conv.weight") != nil),
                 "mid_block_add_attention": .bool(f.has(prefix: v + "encoder.mid.attn_1."))], levels)
    }
}

/// Shape questions about one single file's tensors, with errors naming the file.
struct LDMShapes {
    let path: String
    let files: TensorFiles
    var names: Dictionary<String, StoredTensor>.Keys { files.tensors.keys }

    func shape(_ name: String) -> [Int]? { files.tensors[name]?.shape }

    func require(_ name: String, rank: Int? = nil) throws -> [Int] {
        guard let s = shape(name) else { throw CheckpointError.missingTensor(path: path, name: name) }
        if let rank, s.count != rank { throw CheckpointError.unexpectedShape(path: path, name: name, shape: s, expected: "\(rank) dimensions") }
        return s
    }

    func has(prefix: String) -> Bool { names.contains { $0.hasPrefix(prefix) } }

    /// The distinct numbers right after `prefix` ("…resblocks." → {0, 1, …}).
    func indices(after prefix: String) -> Set<Int> {
        Set(names.compactMap { $0.dropPrefix(prefix).flatMap { Int($0.prefix { $0 != "." }) } })
    }
}

extension JSONValue {
    static func int(_ i: Int) -> JSONValue { .number(Double(i)) }
    static func ints(_ a: [Int]) -> JSONValue { .array(a.map { .number(Double($0)) }) }
}
