import Testing
import ModelIO
import TensorEngine
@testable import Diffusion

/// A float16 / bfloat16 checkpoint keeps its layer weights in that format (widened per layer
/// when used) and gives exactly what the same model gives with every weight widened to
/// float32 up front: widening is exact and the float32 kernels are the same.
@Suite struct ModelHalfWeightTests {
    /// The same tensors with the half-precision format hidden: every layer keeps float32.
    final class WidenedCopy: WeightSource {
        let source: WeightSource
        init(_ source: WeightSource) { self.source = source }
        var tensorNames: [String] { source.tensorNames }
        func contains(_ name: String) -> Bool { source.contains(name) }
        func tensor(named name: String) throws -> Tensor? { try source.tensor(named: name) }
    }

    static let halfCheckpoints: [(file: String, reference: String, format: HalfTensor.Format)] = [
        ("sd1_fp16.safetensors", "sd1-tiny", .float16), ("sd2_bf16.safetensors", "sd2-tiny", .bfloat16),
    ]

    @Test(arguments: [0, 1])
    func unetOnHalfWeightsMatchesItsFloat32Copy(index: Int) throws {
        // These tests assume the default mode; DROPBOOTH_HALF_WEIGHTS in the test environment would change what they test.
        try #require(LayerWeightStorage.mode == .checkpointPrecision)
        let (file, reference, format) = Self.halfCheckpoints[index]
        let ckpt = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint(file))
        let half = try ckpt.loadUNet()
        let widened = try UNet2DConditionModel(config: ckpt.unetConfig, weights: WidenedCopy(ckpt.unetWeights))

        // Every Linear / Conv2d of the half model keeps the checkpoint's format; none of the copy's does.
        #expect(!half.linearLayers.isEmpty && half.linearLayers.allSatisfy { $0.halfWeight?.format == format })
        #expect(half.convLayers.allSatisfy { $0.halfWeight?.format == format })
        #expect(widened.linearLayers.allSatisfy { $0.halfWeight == nil } && widened.convLayers.allSatisfy { $0.halfWeight == nil })
        // Frozen half weights are not trainable parameters; biases and norms stay float32 parameters.
        #expect(half.parameters["conv_in.weight"] == nil && half.parameters["conv_in.bias"] != nil)
        #expect(widened.parameters["conv_in.weight"] != nil)

        let ref = try TinyModel(name: reference).outputs("unet")
        let timesteps = try ref.floats("timesteps")
        func run(_ unet: UNet2DConditionModel) throws -> [[Float]] {
            let latents = try ref.tensor("latents", nhwc: true), context = try ref.tensor("context")
            latents.requiresGrad = true
            context.requiresGrad = true
            let out = unet(latents, timesteps: timesteps, context: context)
            out.backward(gradient: try ref.tensor("grad_out", nhwc: true))
            return [out.detached().scalars, try #require(latents.grad).scalars, try #require(context.grad).scalars]
        }
        let a = try run(half), b = try run(widened)
        for (i, what) in ["output", "dLatents", "dContext"].enumerated() {
            #expect(a[i] == b[i], "\(file): \(what) differs between half-precision and float32 storage")
        }
    }

    @Test func textEncoderOnFloat16WeightsMatchesItsFloat32Copy() throws {
        let ckpt = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd1_fp16.safetensors"))
        let half = try ckpt.loadTextEncoder()
        let widened = try CLIPTextModel(config: ckpt.textEncoderConfig, weights: WidenedCopy(ckpt.textEncoderWeights),
                                        endOfTextTokenID: ckpt.endOfTextTokenID ?? 513)
        #expect(half.linearLayers.allSatisfy { $0.halfWeight?.format == .float16 })
        let tokens = [[1, 320, 125, 539, 320, 236, 513] + [Int](repeating: 513, count: 70)]
        let a = noGrad { half.encode(tokens) }, b = noGrad { widened.encode(tokens) }
        #expect(a.lastHiddenState.scalars == b.lastHiddenState.scalars)
        #expect(a.penultimateHiddenState.scalars == b.penultimateHiddenState.scalars)
    }

    @Test func float32CheckpointKeepsFloat32Weights() throws {
        let unet = try StableDiffusionCheckpoint.open(CheckpointFixtures.model("sd1-tiny")).loadUNet()
        #expect(unet.linearLayers.allSatisfy { $0.halfWeight == nil } && unet.convLayers.allSatisfy { $0.halfWeight == nil })
        #expect(unet.parameters["conv_in.weight"] != nil)
    }

    /// `withFloat32` (models trained whole) holds only for the loads inside it: loads running
    /// at the same time on other threads keep the checkpoint's precision, and so does the next
    /// load after it.
    @Test func float32LoadsLeaveOtherLoadsAlone() async throws {
        let ckpt = try StableDiffusionCheckpoint.open(CheckpointFixtures.checkpoint("sd1_fp16.safetensors"))
        try await withThrowingTaskGroup(of: (inside: Bool, model: CLIPTextModel).self) { group in
            for i in 0..<8 {
                group.addTask {
                    i % 2 == 0 ? (true, try LayerWeightStorage.withFloat32 { try ckpt.loadTextEncoder() })
                               : (false, try ckpt.loadTextEncoder())
                }
            }
            for try await (inside, model) in group {
                if inside {
                    #expect(model.linearLayers.allSatisfy { $0.halfWeight == nil })
                } else {
                    #expect(model.linearLayers.allSatisfy { $0.halfWeight?.format == .float16 })
                }
            }
        }
        #expect(LayerWeightStorage.mode == .checkpointPrecision)
    }

    @Test func environmentChoosesTheMode() {
        #expect(LayerWeightStorage.mode(environment: [:]) == .checkpointPrecision)
        #expect(LayerWeightStorage.mode(environment: ["DROPBOOTH_HALF_WEIGHTS": ""]) == .checkpointPrecision)
        #expect(LayerWeightStorage.mode(environment: ["DROPBOOTH_HALF_WEIGHTS": "1"]) == .half)
        #expect(LayerWeightStorage.mode(environment: ["DROPBOOTH_HALF_WEIGHTS": "0"]) == .float32)
    }
}
