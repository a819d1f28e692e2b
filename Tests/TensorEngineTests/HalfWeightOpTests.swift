import Testing
@testable import TensorEngine

/// linear and conv2d with a frozen float16 weight give exactly what the float32 ops give on
/// the widened weight, forward and backward (input, bias and LoRA gradients), and never a
/// weight gradient.
@Suite struct HalfWeightOpTests {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        let count = shape.reduce(1, *)
        return Tensor((0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }, shape: shape)
    }

    /// Runs `body(x)` forward and backward; returns the output, x's gradient and the other
    /// trainable tensors' gradients.
    private func run(_ x: Tensor, _ trainable: [Tensor], _ body: (Tensor) -> Tensor) -> [[Float]] {
        let x = x.copy()
        x.requiresGrad = true
        for t in trainable { t.grad = nil }
        let y = body(x)
        y.backward(gradient: random(y.shape, seed: 99))
        return [y.scalars, x.grad?.scalars ?? []] + trainable.map { $0.grad?.scalars ?? [] }
    }

    @Test func linearWithHalfWeightMatchesWidenedWeight() {
        let half = HalfTensor(random([24, 40], seed: 1), format: .float16)
        let bias = random([24], seed: 2), x = random([3, 5, 40], seed: 3)
        bias.requiresGrad = true
        let lora = LoRA(down: random([4, 40], seed: 4), up: random([24, 4], seed: 5), scale: 0.5)
        lora.down.requiresGrad = true
        lora.up.requiresGrad = true
        let widened = half.widened()
        let expected = run(x, [bias, lora.down, lora.up]) { linear($0, weight: widened, bias: bias, lora: lora) }
        let actual = run(x, [bias, lora.down, lora.up]) { linear($0, halfWeight: half, bias: bias, lora: lora) }
        #expect(actual == expected)
        #expect(widened.grad == nil)
    }

    @Test(arguments: [(3, 1, 1), (3, 2, 1), (1, 1, 0)])
    func conv2dWithHalfWeightMatchesWidenedWeight(kernel: Int, stride: Int, padding: Int) {
        let half = HalfTensor(random([6, kernel, kernel, 5], seed: 6), format: .float16)
        let bias = random([6], seed: 7), x = random([2, 7, 6, 5], seed: 8)
        bias.requiresGrad = true
        let widened = half.widened()
        let expected = run(x, [bias]) { conv2d($0, weight: widened, bias: bias, stride: stride, padding: padding) }
        let actual = run(x, [bias]) { conv2d($0, halfWeight: half, bias: bias, stride: stride, padding: padding) }
        #expect(actual == expected)
    }
}
