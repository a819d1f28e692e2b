import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// The VAE against diffusers' AutoencoderKL on the tiny fixtures (rtol 1e-4, atol 1e-5).
@Suite struct ModelVAETests {
    @Test(arguments: TinyModel.names)
    func encodeMatchesDiffusers(model: String) throws {
        let tiny = TinyModel(name: model)
        let vae = try tiny.vae()
        let ref = try tiny.outputs("vae")
        let dist = noGrad { vae.encode(try! ref.tensor("image", nhwc: true)) }
        expectClose(nchwValues(dist.mean), try ref.floats("mean"), rtol: modelRtol, atol: modelAtol, "\(model) latent mean")
        expectClose(nchwValues(dist.logvar), try ref.floats("logvar"), rtol: modelRtol, atol: modelAtol, "\(model) latent logvar")
        let sampled = noGrad { dist.sample(noise: try! ref.tensor("noise", nhwc: true)) }
        expectClose(nchwValues(sampled), try ref.floats("sampled"), rtol: modelRtol, atol: modelAtol, "\(model) sampled latents")
    }

    @Test(arguments: TinyModel.names)
    func decodeMatchesDiffusers(model: String) throws {
        let tiny = TinyModel(name: model)
        let vae = try tiny.vae()
        let ref = try tiny.outputs("vae")
        let image = noGrad { vae.decode(try! ref.tensor("latents", nhwc: true)) }
        expectClose(nchwValues(image), try ref.floats("decoded"), rtol: modelRtol, atol: modelAtol, "\(model) decoded image")
    }

    @Test func latentScalingRoundTrips() throws {
        let vae = try TinyModel(name: "sd1-tiny").vae()
        let z = Tensor([0.5, -1, 2, 0], shape: [1, 1, 1, 4])
        let unetLatents = vae.toUNetLatents(z)
        #expect(unetLatents.scalars == z.scalars.map { $0 * vae.config.scalingFactor })
        expectClose(vae.fromUNetLatents(unetLatents).scalars, z.scalars, rtol: 1e-6, atol: 1e-7, "round trip")
    }
}
