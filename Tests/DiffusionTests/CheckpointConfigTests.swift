// config.json parsing: the keys diffusers/transformers write today and wrote before, their
// defaults, and the values that must be refused by name.
import Foundation
import Testing
@testable import Diffusion

@Suite struct CheckpointConfigTests {
    func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8), path: "test.json") }

    @Test func unetConfigOfTheTinyFixturesMatchesTheirJSON() throws {
        let sd1 = try UNetConfig(contentsOf: CheckpointFixtures.model("sd1-tiny/unet/config.json"))
        #expect(sd1.blockOutChannels == [16, 32])
        #expect(sd1.attentionHeadDim == [8, 8])           // an int in the file, per block here
        #expect(sd1.layersPerBlock == [2, 2])
        #expect(sd1.useLinearProjection == false)
        #expect(sd1.normNumGroups == 8)
        let sd2 = try UNetConfig(contentsOf: CheckpointFixtures.model("sd2-tiny/unet/config.json"))
        #expect(sd2.attentionHeadDim == [2, 4, 4])         // a list in SD 2.x configs
        #expect(sd2.transformerLayersPerBlock == [1, 2, 1])
        #expect(sd2.useLinearProjection)
        #expect(sd2.upcastAttention)
    }

    /// SD 1.x's unet/config.json as released in 2022: no use_linear_projection, upcast_attention,
    /// transformer_layers_per_block, …: those take diffusers' defaults.
    @Test func oldUNetConfigTakesDiffusersDefaults() throws {
        let c = try UNetConfig(json: json("""
        {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
         "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
         "cross_attention_dim": 768, "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
         "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
         "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
         "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}
        """))
        #expect(c == UNetConfig())   // the struct's defaults are SD 1.5's
    }

    @Test func missingUNetKeysTakeDiffusersClassDefaultsNotSD15s() throws {
        let c = try UNetConfig(json: json("{}"))
        #expect(c.crossAttentionDim == 1280)   // UNet2DConditionModel's default, not SD 1.5's 768
        #expect(c.blockOutChannels == [320, 640, 1280, 1280])
        #expect(c.midBlockType == "UNetMidBlock2DCrossAttn")
        let noMid = try UNetConfig(json: json(#"{"mid_block_type": null, "cross_attention_dim": 768}"#))
        #expect(noMid.midBlockType == nil)
    }

    @Test func sdxlUNetIsRefusedNamingTheKey() throws {
        let text = errorText { _ = try UNetConfig(json: json(#"{"addition_embed_type": "text_time", "cross_attention_dim": 2048}"#), path: "x/unet/config.json") }
        #expect(text?.contains("x/unet/config.json") == true)
        #expect(text?.contains("addition_embed_type") == true)
        #expect(text?.contains("SDXL is not supported yet") == true)
    }

    @Test func architectureChangingValuesAreRefusedByKey() throws {
        for (key, value) in [("conv_in_kernel", "7"), ("class_embed_type", "\"timestep\""), ("time_cond_proj_dim", "256"),
                             ("attention_type", "\"gated\""), ("resnet_time_scale_shift", "\"scale_shift\""),
                             ("cross_attention_dim", "[768, 768, 768, 768]"), ("some_future_option", "3")] {
            let text = errorText { _ = try UNetConfig(json: json("{\"\(key)\": \(value)}")) }
            #expect(text?.contains(key) == true, "\(key) = \(value) should be refused naming the key, got \(text ?? "no error")")
        }
        // A new option that is off (null/false) changes nothing and passes.
        _ = try UNetConfig(json: json(#"{"some_future_option": null, "other_future_flag": false, "cross_attention_dim": 768}"#))
    }

    @Test func wrongTypesNameKeyAndValue() throws {
        let text = errorText { _ = try UNetConfig(json: json(#"{"layers_per_block": "two"}"#), path: "m/unet/config.json") }
        #expect(text == "m/unet/config.json: layers_per_block should be an integer or a list of 4 integers, found \"two\"")
        let wrongCount = errorText { _ = try UNetConfig(json: json(#"{"attention_head_dim": [5, 10]}"#)) }
        #expect(wrongCount?.contains("attention_head_dim") == true)
        let heads = errorText { _ = try UNetConfig(json: json(#"{"block_out_channels": [32, 64], "attention_head_dim": [3, 8], "norm_num_groups": 8, "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]}"#), path: "u.json") }
        #expect(heads == "u.json: attention_head_dim block 0: 32 channels do not split into 3 heads")
        let notAnObject = errorText { _ = try UNetConfig(json: json("[1, 2]")) }
        #expect(notAnObject?.contains("expected a JSON object") == true)
    }

    @Test func vaeConfig() throws {
        let c = try VAEConfig(contentsOf: CheckpointFixtures.model("sd2-tiny/vae/config.json"))
        #expect(c.normNumGroups == 4)
        #expect(c.layersPerBlock == 2)
        #expect(c.scalingFactor == 0.18215)
        let defaults = try VAEConfig(json: json("{}"))
        #expect(defaults.blockOutChannels == [64] && defaults.layersPerBlock == 1)
        let text = errorText { _ = try VAEConfig(json: json(#"{"latents_mean": [0.1, 0.2, 0.3, 0.4]}"#)) }
        #expect(text?.contains("latents_mean") == true)
        let blocks = errorText { _ = try VAEConfig(json: json(#"{"block_out_channels": [64, 128], "down_block_types": ["DownEncoderBlock2D", "AttnDownEncoderBlock2D"]}"#)) }
        #expect(blocks?.contains("down_block_types") == true)
    }

    @Test func textEncoderConfigFromTransformers4And5() throws {
        let c = try CLIPTextConfig(contentsOf: CheckpointFixtures.model("sd2-tiny/text_encoder/config.json"))
        #expect(c.hiddenAct == .gelu && c.numHiddenLayers == 3 && c.hiddenSize == 32 && c.numAttentionHeads == 2)
        #expect(c.projectionDim == nil)
        // SD 1.5's text_encoder/config.json (transformers 4.22).
        let old = try CLIPTextConfig(json: json("""
        {"_name_or_path": "openai/clip-vit-large-patch14", "architectures": ["CLIPTextModel"], "attention_dropout": 0.0,
         "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768,
         "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
         "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 12,
         "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768, "torch_dtype": "float32",
         "transformers_version": "4.22.0.dev0", "vocab_size": 49408}
        """))
        #expect(old == CLIPTextConfig())
        let withProjection = try CLIPTextConfig(json: json(#"{"architectures": ["CLIPTextModelWithProjection"], "projection_dim": 1280}"#))
        #expect(withProjection.projectionDim == 1280)
        #expect(errorText { _ = try CLIPTextConfig(json: json(#"{"hidden_act": "gelu_new"}"#)) }?.contains("hidden_act") == true)
        #expect(errorText { _ = try CLIPTextConfig(json: json(#"{"model_type": "clip"}"#)) }?.contains("model_type") == true)
    }

    @Test func schedulerConfig() throws {
        let c = try SchedulerConfig(contentsOf: CheckpointFixtures.model("sd2-tiny/scheduler/scheduler_config.json"))
        #expect(c.predictionType == .vPrediction)
        #expect(c.betaSchedule == .scaledLinear && c.betaStart == 0.00085 && c.betaEnd == 0.012)
        #expect(c.className == "DDIMScheduler" && c.stepsOffset == 1 && c.setAlphaToOne == false)
        let defaults = try SchedulerConfig(json: json("{}"))
        #expect(defaults.betaSchedule == .linear && defaults.predictionType == .epsilon && defaults.betaEnd == 0.02)
        // Sampler settings diffusers' samplers have are read, not refused.
        let samplerKeys = try SchedulerConfig(json: json(#"{"skip_prk_steps": true, "use_karras_sigmas": true}"#))
        #expect(samplerKeys.skipPRKSteps == true && samplerKeys.useKarrasSigmas)
        let bad = errorText { _ = try SchedulerConfig(json: json(#"{"prediction_type": "flow"}"#), path: "s.json") }
        #expect(bad == #"s.json: "prediction_type": "flow" is not supported: expected "epsilon" or "v_prediction""#)
        #expect(errorText { _ = try SchedulerConfig(json: json(#"{"trained_betas": [0.1, 0.2]}"#)) }?.contains("trained_betas") == true)
    }

    @Test func badJSONNamesFileLineAndColumn() throws {
        let text = errorText { _ = try JSONValue.parse(Data("{\n  \"a\": 1,\n  \"b\": tru\n}".utf8), path: "m/unet/config.json") }
        #expect(text == "m/unet/config.json: is not valid JSON: line 3, column 8: expected a value, found 'tru\n}'")
        let unclosed = errorText { _ = try JSONValue.parse(Data(#"{"a": "b"#.utf8), path: "x.json") }
        #expect(unclosed == "x.json: is not valid JSON: line 1, column 9: a string is not closed, found the end of the file")
        // Escapes, nesting and numbers as JSON writes them.
        let v = try JSONValue.parse(Data(#"{"s": "\u00e9\ud83d\ude00\n", "a": [1, -2.5e-3, true, null, {}]}"#.utf8), path: "y.json")
        #expect(v == ["s": "é😀\n", "a": [1, -0.0025, true, .null, [:]]])
    }
}
