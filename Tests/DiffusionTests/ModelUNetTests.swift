import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// The UNet against diffusers' UNet2DConditionModel on the tiny fixtures: output for a batch
/// of two latents at two timesteps, and gradients w.r.t. latents and context (rtol 1e-4,
/// atol 1e-5).
@Suite struct ModelUNetTests {
    @Test(arguments: TinyModel.names)
    func outputMatchesDiffusers(model: String) throws {
        let tiny = TinyModel(name: model)
        let unet = try tiny.unet()
        let ref = try tiny.outputs("unet")
        let latents = try ref.tensor("latents", nhwc: true)
        let context = try ref.tensor("context")
        let out = noGrad { unet(latents, timesteps: try! ref.floats("timesteps"), context: context) }
        expectClose(nchwValues(out), try ref.floats("out"), rtol: modelRtol, atol: modelAtol, "\(model) UNet output")
    }

    @Test(arguments: TinyModel.names, [false, true])
    func gradientsMatchDiffusers(model: String, checkpointing: Bool) throws {
        let tiny = TinyModel(name: model)
        let unet = try tiny.unet()
        unet.gradientCheckpointing = checkpointing
        let ref = try tiny.outputs("unet")
        let latents = try ref.tensor("latents", nhwc: true)
        let context = try ref.tensor("context")
        latents.requiresGrad = true
        context.requiresGrad = true
        let out = unet(latents, timesteps: try ref.floats("timesteps"), context: context)
        out.backward(gradient: try ref.tensor("grad_out", nhwc: true))
        expectClose(nchwValues(out.detached()), try ref.floats("out"), rtol: modelRtol, atol: modelAtol, "\(model) UNet output")
        expectClose(nchwValues(try #require(latents.grad)), try ref.floats("grad_latents"), rtol: 1e-4, atol: 1e-4,
                    "\(model) dOut/dLatents")
        expectClose(try #require(context.grad).scalars, try ref.floats("grad_context"), rtol: 1e-4, atol: 1e-4,
                    "\(model) dOut/dContext")
    }

    /// The layers a LoRA can target carry diffusers' names.
    @Test func layerNamesForLoRA() throws {
        let unet = try TinyModel(name: "sd1-tiny").unet()
        let linears = Set(unet.linearLayers.map(\.name))
        for name in ["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
                     "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k",
                     "mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0",
                     "up_blocks.1.attentions.2.transformer_blocks.0.ff.net.0.proj",
                     "up_blocks.1.attentions.2.transformer_blocks.0.ff.net.2",
                     "down_blocks.0.attentions.0.proj_in", "time_embedding.linear_1"] {
            #expect(linears.contains(name), "missing linear layer \(name)")
        }
        let convs = Set(unet.convLayers.map(\.name))
        for name in ["conv_in", "down_blocks.0.resnets.0.conv1", "up_blocks.0.resnets.0.conv_shortcut",
                     "down_blocks.0.downsamplers.0.conv", "up_blocks.0.upsamplers.0.conv", "conv_out"] {
            #expect(convs.contains(name), "missing conv layer \(name)")
        }
    }
}

/// Latent sides that do not halve evenly (9x6): the up-samplers resize to the skip
/// connections' sizes as diffusers does (rtol 1e-4, atol 1e-5).
@Suite struct ModelUNetOddSizeTests {
    @Test(arguments: TinyModel.names)
    func oddLatentSizeMatchesDiffusers(model: String) throws {
        let tiny = TinyModel(name: model)
        let unet = try tiny.unet()
        let ref = try tiny.outputs("unet-odd")
        let out = noGrad { unet(try! ref.tensor("latents", nhwc: true), timesteps: try! ref.floats("timesteps"), context: try! ref.tensor("context")) }
        #expect(out.shape == [1, 9, 6, 4])
        expectClose(nchwValues(out), try ref.floats("out"), rtol: modelRtol, atol: modelAtol, "\(model) UNet output on 9x6 latents")
    }

    /// resizeNearest's backward sends each output gradient to the pixel it copied.
    @Test func resizeNearestGradientSumsCopies() {
        let x = Tensor((0..<(1 * 3 * 2 * 1)).map(Float.init), shape: [1, 3, 2, 1])
        x.requiresGrad = true
        let y = resizeNearest(x, height: 5, width: 3)
        // rows ⌊i·3/5⌋ = 0,0,1,1,2; cols ⌊j·2/3⌋ = 0,0,1
        #expect(y.scalars == [0, 0, 1, 0, 0, 1, 2, 2, 3, 2, 2, 3, 4, 4, 5])
        y.backward(gradient: Tensor(repeating: 1, shape: y.shape))
        #expect(x.grad?.scalars == [4, 2, 4, 2, 2, 1])
    }
}
