// Which layers get a LoRA adapter: the layer kinds a recipe names, matched by the diffusers /
// transformers module names the models keep (the same suffixes PEFT's target_modules match).

import Diffusion

public enum LoRATarget: String, Sendable, Codable, CaseIterable {
    /// UNet attention projections: to_q, to_k, to_v, to_out.0 (self- and cross-attention).
    case attention
    /// UNet transformer feed-forward: ff.net.0.proj (GEGLU in) and ff.net.2 (out).
    case feedForward = "feed_forward"
    /// UNet resnet convolutions conv1 and conv2 (3x3; PEFT's Conv2d LoRA).
    case resnetConvs = "resnet_convs"
    /// Text encoder self-attention: q_proj, k_proj, v_proj, out_proj.
    case textAttention = "text_attention"
    /// Text encoder MLP: fc1, fc2.
    case textMLP = "text_mlp"

    public var part: ModelPart {
        switch self {
        case .attention, .feedForward, .resnetConvs: return .unet
        case .textAttention, .textMLP: return .textEncoder
        }
    }

    /// Module-name suffixes this kind covers.
    var suffixes: [String] {
        switch self {
        case .attention: return [".to_q", ".to_k", ".to_v", ".to_out.0"]
        case .feedForward: return [".ff.net.0.proj", ".ff.net.2"]
        case .resnetConvs: return [".conv1", ".conv2"]
        case .textAttention: return [".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj", ".self_attn.out_proj"]
        case .textMLP: return [".mlp.fc1", ".mlp.fc2"]
        }
    }

    func matches(_ layerName: String) -> Bool {
        if self == .resnetConvs, !layerName.contains(".resnets.") { return false }
        return suffixes.contains { layerName.hasSuffix($0) }
    }
}
