import Testing
@testable import TensorEngine
import TestSupport

@Suite struct AutodiffTests {
    @Test func nothingIsRecordedWithoutTrainableInputs() {
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        let w = Tensor([1, 0, 0, 1], shape: [2, 2])
        let y = silu(linear(x, weight: w))
        #expect(!y.requiresGrad)
        #expect(y.gradNode == nil)
    }

    @Test func frozenWeightGetsNoGradient() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2]); x.requiresGrad = true
        let w = Tensor([0.5, -1, 2, 0.25], shape: [2, 2])
        let b = Tensor([0.1, 0.2], shape: [2])
        mean(linear(x, weight: w, bias: b)).backward()
        #expect(w.grad == nil && b.grad == nil)
        // d mean / dx = (1/6) Σ_out W[out, :]
        expectClose(x.grad!.scalars, [Float](repeating: 0, count: 6).enumerated().map { i, _ in i % 2 == 0 ? 2.5 / 6 : -0.75 / 6 }, "dx")
    }

    @Test func gradientsAddUpOverFanOut() {
        // y = x·x + x → dy/dx = 2x + 1; x feeds three uses.
        let x = Tensor([1, -2, 0.5], shape: [3]); x.requiresGrad = true
        let y = x * x + x
        y.backward(gradient: Tensor(repeating: 1, shape: [3]))
        #expect(x.grad!.scalars == [3, -3, 2])
    }

    @Test func leafGradientsDoNotShareStorage() {
        // add() hands one gradient to both inputs; each leaf must get its own copy.
        let a = Tensor([1, 2], shape: [2]); a.requiresGrad = true
        let b = Tensor([3, 4], shape: [2]); b.requiresGrad = true
        (a + b).backward(gradient: Tensor([1, 1], shape: [2]))
        a.grad!.data[0] = 100
        #expect(b.grad!.scalars == [1, 1])
    }

    @Test func successiveBackwardPassesAccumulate() {
        let x = Tensor([2], shape: [1]); x.requiresGrad = true
        mean(x * 3).backward()
        mean(x * 4).backward()
        #expect(x.grad!.scalars == [7])
    }

    @Test func noGradRecordsNothing() {
        let x = Tensor([1, 2], shape: [2]); x.requiresGrad = true
        let y = noGrad { silu(x) * 2 }
        #expect(!y.requiresGrad)
        #expect(!noGrad { Autograd.isRecording })
        #expect(Autograd.isRecording)
    }

    /// A UNet-like block: fused GroupNorm+SiLU, a LoRA linear whose adapter is captured (not
    /// passed in), a residual add.
    private func block(_ x: Tensor, _ lora: LoRA, _ w: Tensor) -> Tensor {
        let h = groupNorm(x, groups: 2, weight: nil, bias: nil, silu: true)
        return linear(h, weight: w, lora: lora) + x
    }

    private func blockParameters(trainableInput: Bool) -> (Tensor, LoRA, Tensor) {
        var rng = PhiloxRandom(seed: 7)
        let x = rng.normal(shape: [2, 3, 3, 4]); x.requiresGrad = trainableInput
        let down = rng.normal(shape: [2, 4], std: 0.5); down.requiresGrad = true
        let up = rng.normal(shape: [4, 2], std: 0.5); up.requiresGrad = true
        let w = rng.normal(shape: [4, 4])
        return (x, LoRA(down: down, up: up, scale: 0.5), w)
    }

    @Test(arguments: [true, false])
    func checkpointedBlockGivesTheSameGradients(trainableInput: Bool) {
        let (x1, lora1, w1) = blockParameters(trainableInput: trainableInput)
        let (x2, lora2, w2) = blockParameters(trainableInput: trainableInput)
        var rng = PhiloxRandom(seed: 9)
        let target = rng.normal(shape: [2, 3, 3, 4])

        let plain = mseLoss(block(block(x1, lora1, w1), lora1, w1), target)
        plain.backward()

        // The second block is checkpointed, nested inside a checkpoint of both.
        let outer = checkpoint([x2]) { [self] inputs in
            let first = block(inputs[0], lora2, w2)
            return checkpoint([first]) { [self] h in block(h[0], lora2, w2) }
        }
        let ckpt = mseLoss(outer, target)
        #expect(ckpt.item == plain.item)
        ckpt.backward()

        expectClose(lora2.down.grad!.scalars, lora1.down.grad!.scalars, rtol: 1e-6, atol: 1e-7, "LoRA down gradient")
        expectClose(lora2.up.grad!.scalars, lora1.up.grad!.scalars, rtol: 1e-6, atol: 1e-7, "LoRA up gradient")
        if trainableInput {
            expectClose(x2.grad!.scalars, x1.grad!.scalars, rtol: 1e-6, atol: 1e-7, "input gradient")
        } else {
            #expect(x2.grad == nil)
        }
        #expect(w2.grad == nil)
    }

    @Test func checkpointWithoutTrainableTensorsRecordsNothing() {
        let x = Tensor([1, 2, 3, 4], shape: [1, 4])
        let y = checkpoint([x]) { silu($0[0]) }
        #expect(!y.requiresGrad)
    }

    @Test func reshapeSharesStorageAndPassesGradient() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]); x.requiresGrad = true
        let y = x.reshaped([3, -1])
        #expect(y.shape == [3, 2])
        #expect(y.storage === x.storage)
        (y * Tensor([1, 2], shape: [2])).backward(gradient: Tensor(repeating: 1, shape: [3, 2]))
        #expect(x.grad!.shape == [2, 3])
        #expect(x.grad!.scalars == [1, 2, 1, 2, 1, 2])
    }

    /// The graph links nodes, not tensors: a sum's inputs are freed once the caller drops
    /// them; an op that needs its input (SiLU) keeps it until backward.
    @Test func recordingKeepsOnlyWhatBackwardNeeds() {
        let x = Tensor(zeros: [4]); x.requiresGrad = true
        let c = Tensor(repeating: 1, shape: [4])
        weak var sumInput: TensorStorage?
        weak var siluInput: TensorStorage?
        let out: Tensor = {
            let t = x + c
            sumInput = t.storage
            let u = t + c
            siluInput = u.storage
            return silu(u) + c
        }()
        #expect(sumInput == nil)
        #expect(siluInput != nil)
        out.backward(gradient: Tensor(repeating: 1, shape: [4]))
        #expect(siluInput == nil)   // released with the graph after backward
        #expect(x.grad != nil)
    }
}
