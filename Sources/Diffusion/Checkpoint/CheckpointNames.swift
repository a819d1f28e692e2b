// Stored tensor names → the diffusers/transformers names the models ask for: the one place
// that knows the mappings. Mostly the original LDM single-file layout; also the older
// spellings found in diffusers folders (`diffusersName`). (scripts/fixtures/single_file.py writes the reverse independently, and checks it
// against diffusers' own converter; the tests load its output here.)
//
// A single file (as CompVis/Stability released SD 1.x/2.x and as community sites distribute
// models) holds three models under prefixes:
//
//   model.diffusion_model.*     the UNet, numbered as flat lists (see `unet`)
//   first_stage_model.*         the VAE (see `vae`)
//   cond_stage_model.transformer.[text_model.]*   SD 1.x: OpenAI CLIP, transformers' own names
//   cond_stage_model.model.*    SD 2.x: OpenCLIP ViT-H (see `openCLIP`)
//
// plus leftovers of the training wrapper that no model uses (DDPM buffers, EMA copies, the
// VAE's training loss, OpenCLIP's unused projection): those are skipped by name. Any other name
// is reported: nothing in a file is silently dropped.

/// Which model a tensor belongs to.
public enum CheckpointComponent: String, Sendable, CaseIterable {
    case unet, vae, textEncoder = "text_encoder"
}

/// How a stored tensor becomes the diffusers one.
enum LDMTransform: Equatable {
    case none
    /// A 1x1 conv [C, C, 1, 1] used as a linear layer [C, C] (the LDM VAE's mid attention).
    case conv1x1ToLinear
    /// Part `part` of 3 equal row blocks (OpenCLIP's fused in_proj: q, k, v).
    case thirdOfRows(part: Int)
}

struct LDMTarget: Equatable {
    let component: CheckpointComponent
    let name: String
    let transform: LDMTransform
}

enum LDMNameMapping: Equatable {
    case mapped([LDMTarget])
    /// A known leftover nothing uses.
    case skipped
    case unknown
}

/// What the mapping needs to know about the file (inferred from its names first).
struct LDMLayout {
    /// Resnets per UNet down block (LDM's num_res_blocks).
    var unetLayersPerBlock: Int
    /// VAE resolution levels (decoder.up.* is numbered the other way round from diffusers).
    var vaeLevels: Int
    /// OpenCLIP resblocks in the file; the last one is skipped (SD 2.x reads the penultimate
    /// layer, so the diffusers text encoder has one layer fewer).
    var openCLIPResblocks: Int?
}

enum CheckpointNames {
    static let unetPrefix = "model.diffusion_model."
    static let vaePrefix = "first_stage_model."
    static let clipPrefix = "cond_stage_model.transformer."
    static let openCLIPPrefix = "cond_stage_model.model."

    static func map(_ name: String, layout: LDMLayout) -> LDMNameMapping {
        if let rest = name.dropPrefix(unetPrefix) {
            return unet(rest, layersPerBlock: layout.unetLayersPerBlock).map { .mapped([LDMTarget(component: .unet, name: $0, transform: .none)]) } ?? .unknown
        }
        if let rest = name.dropPrefix(vaePrefix) {
            if rest.hasPrefix("loss.") { return .skipped }   // LPIPS/discriminator of VAE training
            return vae(rest, levels: layout.vaeLevels) ?? .unknown
        }
        if let rest = name.dropPrefix(clipPrefix) {
            // transformers < 4.18 saved CLIPTextModel without the text_model. level.
            let hf = rest.dropPrefix("text_model.") ?? rest
            if hf == "embeddings.position_ids" { return .skipped }   // an index buffer, not a weight
            return .mapped([LDMTarget(component: .textEncoder, name: hf, transform: .none)])
        }
        if let rest = name.dropPrefix(openCLIPPrefix) {
            return openCLIP(rest, resblocks: layout.openCLIPResblocks ?? 0)
        }
        if trainingLeftovers.contains(name) || name.hasPrefix("model_ema.") { return .skipped }
        return .unknown
    }

    /// Buffers of LDM's DDPM wrapper saved with the weights.
    static let trainingLeftovers: Set<String> = [
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
        "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
        "logvar", "lvlb_weights", "model_ema.decay", "model_ema.num_updates", "scale_factor",
    ]

    // MARK: UNet

    /// LDM numbers the UNet as flat lists. With L = layers per block and B blocks:
    ///   input_blocks.0.0               conv_in
    ///   input_blocks.{1+b(L+1)+l}.0    down_blocks.b.resnets.l       (l < L)
    ///   input_blocks.{1+b(L+1)+l}.1    down_blocks.b.attentions.l
    ///   input_blocks.{1+b(L+1)+L}.0.op down_blocks.b.downsamplers.0.conv   (b < B-1)
    ///   middle_block.0 / .1 / .2       mid_block.resnets.0 / attentions.0 / resnets.1
    ///   output_blocks.{b(L+1)+l}.0     up_blocks.b.resnets.l         (l ≤ L)
    ///   output_blocks.{b(L+1)+l}.1     up_blocks.b.attentions.l, or the upsampler (.1.conv) when the block has no attention
    ///   output_blocks.{b(L+1)+L}.2     up_blocks.b.upsamplers.0 (.2.conv) after an attention
    ///   time_embed.0 / .2              time_embedding.linear_1 / linear_2
    ///   out.0 / out.2                  conv_norm_out / conv_out
    /// Resnet parts: in_layers.0 norm1, in_layers.2 conv1, emb_layers.1 time_emb_proj,
    /// out_layers.0 norm2, out_layers.3 conv2, skip_connection conv_shortcut.
    /// Spatial transformers use diffusers' names already (proj_in, transformer_blocks.N.attn1, ...).
    static let unetTopLevel = ["time_embed.0.": "time_embedding.linear_1.", "time_embed.2.": "time_embedding.linear_2.",
                               "input_blocks.0.0.": "conv_in.", "out.0.": "conv_norm_out.", "out.2.": "conv_out."]

    static func unet(_ name: String, layersPerBlock L: Int) -> String? {
        for (ldm, diffusers) in unetTopLevel {
            if let rest = name.dropPrefix(ldm) { return diffusers + rest }
        }
        let parts = name.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4 || (parts.count == 3 && parts[0] == "middle_block") else { return nil }
        if parts[0] == "middle_block", let j = Int(parts[1]) {
            let rest = parts.dropFirst(2).joined(separator: ".")
            switch j {
            case 0: return resnet(rest).map { "mid_block.resnets.0." + $0 }
            case 1: return "mid_block.attentions.0." + rest
            case 2: return resnet(rest).map { "mid_block.resnets.1." + $0 }
            default: return nil
            }
        }
        guard let i = Int(parts[1]), let j = Int(parts[2]), L > 0 else { return nil }
        let rest = parts[3]
        switch parts[0] {
        case "input_blocks" where i >= 1:
            let b = (i - 1) / (L + 1), l = (i - 1) % (L + 1)
            if l == L {
                guard j == 0, let conv = rest.dropPrefix("op.") else { return nil }
                return "down_blocks.\(b).downsamplers.0.conv.\(conv)"
            }
            if j == 0 { return resnet(rest).map { "down_blocks.\(b).resnets.\(l).\($0)" } }
            if j == 1 { return "down_blocks.\(b).attentions.\(l).\(rest)" }
            return nil
        case "output_blocks":
            let b = i / (L + 1), l = i % (L + 1)
            if j == 0 { return resnet(rest).map { "up_blocks.\(b).resnets.\(l).\($0)" } }
            if (j == 1 || j == 2), let conv = rest.dropPrefix("conv.") { return "up_blocks.\(b).upsamplers.0.conv.\(conv)" }
            if j == 1 { return "up_blocks.\(b).attentions.\(l).\(rest)" }
            return nil
        default:
            return nil
        }
    }

    static let resnetParts = ["in_layers.0.": "norm1.", "in_layers.2.": "conv1.", "emb_layers.1.": "time_emb_proj.",
                              "out_layers.0.": "norm2.", "out_layers.3.": "conv2.", "skip_connection.": "conv_shortcut."]

    static func resnet(_ rest: String) -> String? {
        for (ldm, diffusers) in resnetParts {
            if let r = rest.dropPrefix(ldm) { return diffusers + r }
        }
        return nil
    }

    // MARK: VAE

    /// encoder.down.{i}.block.{j} → encoder.down_blocks.i.resnets.j; encoder.down.{i}.downsample
    /// → downsamplers.0; decoder.up.{i} → decoder.up_blocks.{levels-1-i} (LDM counts up blocks from
    /// the full-resolution end); {encoder,decoder}.mid.block_1/block_2 → mid_block.resnets.0/1;
    /// mid.attn_1.{norm,q,k,v,proj_out} → mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}
    /// with the 1x1-conv weights as linear ones; norm_out → conv_norm_out; nin_shortcut → conv_shortcut.
    static let vaeAttentionParts = ["norm.": "group_norm.", "q.": "to_q.", "k.": "to_k.", "v.": "to_v.", "proj_out.": "to_out.0."]
    static let vaeShortcut = (ldm: "nin_shortcut.", diffusers: "conv_shortcut.")

    static func vae(_ name: String, levels: Int) -> LDMNameMapping? {
        func target(_ n: String, _ t: LDMTransform = .none) -> LDMNameMapping { .mapped([LDMTarget(component: .vae, name: n, transform: t)]) }
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 2 else { return nil }
        if ["quant_conv", "post_quant_conv"].contains(parts[0]) { return target(name) }
        guard parts[0] == "encoder" || parts[0] == "decoder" else { return nil }
        let part = parts[0]
        let rest = parts.dropFirst().joined(separator: ".")
        if let r = rest.dropPrefix("norm_out.") { return target("\(part).conv_norm_out.\(r)") }
        if rest.hasPrefix("conv_in.") || rest.hasPrefix("conv_out.") { return target(name) }
        if let r = rest.dropPrefix("mid.block_1.") { return target("\(part).mid_block.resnets.0.\(shortcut(r))") }
        if let r = rest.dropPrefix("mid.block_2.") { return target("\(part).mid_block.resnets.1.\(shortcut(r))") }
        if let r = rest.dropPrefix("mid.attn_1.") {
            for (ldm, diffusers) in vaeAttentionParts {
                if let tail = r.dropPrefix(ldm) {
                    let t: LDMTransform = (ldm != "norm." && tail == "weight") ? .conv1x1ToLinear : .none
                    return target("\(part).mid_block.attentions.0.\(diffusers)\(tail)", t)
                }
            }
            return nil
        }
        // encoder.down.{i}.… / decoder.up.{i}.…
        guard parts.count >= 4, let i = Int(parts[2]) else { return nil }
        let tail = parts.dropFirst(3).joined(separator: ".")
        let block: String
        switch (part, parts[1]) {
        case ("encoder", "down"): block = "encoder.down_blocks.\(i)"
        case ("decoder", "up") where i < levels: block = "decoder.up_blocks.\(levels - 1 - i)"
        default: return nil
        }
        if let r = tail.dropPrefix("block.") { return target("\(block).resnets.\(shortcut(r))") }
        if let r = tail.dropPrefix("downsample.") ?? tail.dropPrefix("upsample.") {
            return target("\(block).\(part == "encoder" ? "downsamplers" : "upsamplers").0.\(r)")
        }
        return nil
    }

    private static func shortcut(_ s: String) -> String { s.replacingFirst(vaeShortcut.ldm, with: vaeShortcut.diffusers) }

    // MARK: OpenCLIP (SD 2.x)

    /// token_embedding → embeddings.token_embedding; positional_embedding →
    /// embeddings.position_embedding.weight; ln_final → final_layer_norm;
    /// transformer.resblocks.{i}.{ln_1, ln_2, attn.out_proj, mlp.c_fc, mlp.c_proj} →
    /// encoder.layers.i.{layer_norm1, layer_norm2, self_attn.out_proj, mlp.fc1, mlp.fc2};
    /// attn.in_proj_{weight,bias} holds q, k and v stacked by rows → self_attn.{q,k,v}_proj.
    /// The last resblock, text_projection and logit_scale are not used by SD 2.x.
    static let openCLIPTopLevel = ["token_embedding.weight": "embeddings.token_embedding.weight",
                                   "positional_embedding": "embeddings.position_embedding.weight",
                                   "ln_final.weight": "final_layer_norm.weight", "ln_final.bias": "final_layer_norm.bias"]
    static let openCLIPLayerParts = ["ln_1.": "layer_norm1.", "ln_2.": "layer_norm2.", "attn.out_proj.": "self_attn.out_proj.",
                                     "mlp.c_fc.": "mlp.fc1.", "mlp.c_proj.": "mlp.fc2."]

    static func openCLIP(_ name: String, resblocks: Int) -> LDMNameMapping {
        func target(_ n: String, _ t: LDMTransform = .none) -> LDMNameMapping { .mapped([LDMTarget(component: .textEncoder, name: n, transform: t)]) }
        if let hf = openCLIPTopLevel[name] { return target(hf) }
        if name == "text_projection" || name == "logit_scale" { return .skipped }
        guard let r = name.dropPrefix("transformer.resblocks.") else { return .unknown }
        let parts = r.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let i = Int(parts[0]) else { return .unknown }
        if i == resblocks - 1 { return .skipped }
        let layer = "encoder.layers.\(i)."
        if let kind = parts[1].dropPrefix("attn.in_proj_") {
            guard kind == "weight" || kind == "bias" else { return .unknown }
            return .mapped(["q", "k", "v"].enumerated().map { p, x in
                LDMTarget(component: .textEncoder, name: "\(layer)self_attn.\(x)_proj.\(kind)", transform: .thirdOfRows(part: p))
            })
        }
        for (ldm, hf) in openCLIPLayerParts {
            if let tail = parts[1].dropPrefix(ldm) { return target(layer + hf + tail) }
        }
        return .unknown
    }
}

extension CheckpointNames {
    /// A diffusers-folder tensor name as the models ask for it. Folders written by older tools:
    /// transformers < 5.6 puts the CLIP text model under `text_model.`; diffusers < 0.14 named
    /// the VAE's mid-block attention query/key/value/proj_attn.
    static func diffusersName(_ name: String, component: CheckpointComponent) -> String {
        switch component {
        case .textEncoder:
            return name.dropPrefix("text_model.") ?? name
        case .vae:
            guard name.contains("mid_block.attentions.0.") else { return name }
            let legacy = [".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."]
            for (old, new) in legacy where name.contains(old) { return name.replacingFirst(old, with: new) }
            return name
        case .unet:
            return name
        }
    }
}

extension String {
    /// The rest after `prefix`, nil when the string does not start with it.
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }

    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = range(of: target) else { return self }
        return replacingCharacters(in: r, with: replacement)
    }
}
