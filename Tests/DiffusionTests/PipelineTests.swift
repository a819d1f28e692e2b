import Foundation
import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// Complete sampling runs against diffusers' StableDiffusionPipeline on the tiny models
/// (scripts/fixtures/pipeline.py): same seed (torch.Generator().manual_seed), sampler, steps,
/// guidance and size. Tolerances: the latents after the loop within rtol 1e-4 (atol 1e-4),
/// the decoded image within 2e-4 in [0, 1] floats and at most 1 level of 255 in bytes
/// (float rounding only: the bytes are round(255·x) of those floats).
@Suite("txt2img pipeline against diffusers")
struct PipelineTests {
    static let caseNames = (try? PipelineCase.all().map(\.name)) ?? []

    @Test("initial latents, final latents and image match diffusers", arguments: caseNames)
    func matchesDiffusers(name: String) throws {
        try compare(name)
    }

    func compare(_ name: String) throws {
        let c = try PipelineCase.named(name)
        let reference = try c.tensors()
        var request = c.request
        if c.givenLatents { request.initialLatentsNCHW = try reference.floats("latents") }
        let pipeline = try c.pipeline()
        let result = try pipeline.generate(request)

        let shape = try reference.entry("final_latents").shape        // [1, C, h, w]
        let expectedFinal = LatentLayout.nhwc(fromNCHW: try reference.floats("final_latents"), batch: 1,
                                              channels: shape[1], height: shape[2], width: shape[3])
        expectClose(result.finalLatents, expectedFinal, rtol: 1e-4, atol: 1e-4, "\(name) final latents")

        let expectedImage = try reference.floats("image")
        expectClose(result.image, expectedImage, rtol: 0, atol: 2e-4, "\(name) image")
        let expectedBytes = expectedImage.map { Int(($0 * 255).rounded()) }
        let worst = zip(result.pixels, expectedBytes).map { abs(Int($0) - $1) }.max() ?? 0
        #expect(worst <= 1, "\(name): a pixel differs by \(worst) levels of 255")
        #expect(result.width == c.request.width && result.pixels.count == c.request.width * c.request.height * 3)
    }

    @Test("the torch generator draws the initial latents torch.randn drew", arguments: caseNames)
    func initialLatentsFromSeed(name: String) throws {
        let c = try PipelineCase.named(name)
        guard !c.givenLatents else { return }
        let reference = try c.tensors()
        let shape = try reference.entry("initial_latents").shape
        // The fixtures were drawn by torch with CPU capability AVX2 (avx_mathfun's Cephes
        // polynomials); on an AVX-512 CPU torch itself draws with the C library's functions,
        // which differ in the last bits (TorchGenerator), so the kernel is named here.
        var noise = SamplingNoise(kind: .torch, seed: c.request.seed, boxMuller: .avx2)
        let drawn = noise.next(channels: shape[1], height: shape[2], width: shape[3])
        let expected = LatentLayout.nhwc(fromNCHW: try reference.floats("initial_latents"), batch: 1,
                                         channels: shape[1], height: shape[2], width: shape[3])
        #expect(drawn == expected)
    }

    @Test("given latents replace the seed's: the seed then changes nothing for DDIM")
    func givenLatentsIgnoreSeed() throws {
        let c = try PipelineCase.named("sd1-ddim-given-latents")
        let pipeline = try c.pipeline()
        var request = c.request
        request.initialLatentsNCHW = try c.tensors().floats("latents")
        let a = try pipeline.generate(request)
        request.seed += 1000
        let b = try pipeline.generate(request)
        #expect(a.pixels == b.pixels)
        request.initialLatentsNCHW = Array(request.initialLatentsNCHW!.dropLast())
        #expect(throws: SamplerError.self) { try pipeline.generate(request) }
    }

    @Test("the native generator gives another image for the same seed, the same one twice")
    func nativeRandomSource() throws {
        let c = try PipelineCase.named("sd1-ddim")
        let pipeline = try c.pipeline()
        var request = c.request
        request.rng = .native
        let a = try pipeline.generate(request), b = try pipeline.generate(request)
        // Same seed, same image, bit for bit, whatever else runs in the process (the engine's
        // GEMMs no longer depend on OpenBLAS's thread setting, which other tests' attention
        // calls used to flip: see TensorEngine's gemm).
        let worst = zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(a.pixels == b.pixels, "two runs with the same seed differ by up to \(worst) levels")
        let torch = try pipeline.generate(c.request)
        #expect(a.pixels != torch.pixels)
    }

    @Test("sizes that are not multiples of the VAE factor and Karras on DDIM are refused")
    func refusedRequests() throws {
        let pipeline = try PipelineCase.named("sd1-ddim").pipeline()
        var r = TextToImageRequest(prompt: "x")
        r.width = 33; r.height = 32; r.steps = 2
        #expect(throws: SamplerError.self) { try pipeline.generate(r) }
        r.width = 32; r.sampler = .ddim; r.karras = true
        #expect(throws: SamplerError.self) { try pipeline.generate(r) }
    }
}

