import Foundation
import TensorEngine

/// The work `dropbooth bench engine` measures: the kernels of the SD 1.5 UNet at 512x512
/// (latent 64x64), batch 1. The same list is handed to scripts/bench/torch_engine.py as JSON,
/// so both sides measure exactly the same shapes.
enum BenchCase: Codable, Sendable {
    case gemm(name: String, size: Int)
    case conv(name: String, channelsIn: Int, channelsOut: Int, size: Int, kernel: Int, stride: Int, padding: Int)
    case attention(name: String, heads: Int, queryLength: Int, keyLength: Int, headDim: Int)
    /// A memory-bound op on `shape` (channels last on our side; torch gets the NCHW layout
    /// diffusers uses when the op cares). `op` is one of `PointwiseOp`'s raw values.
    case pointwise(name: String, op: String, shape: [Int])

    var name: String {
        switch self {
        case .gemm(let name, _), .conv(let name, _, _, _, _, _, _), .attention(let name, _, _, _, _),
             .pointwise(let name, _, _): return name
        }
    }

    static let stableDiffusion15: [BenchCase] = [
        .gemm(name: "sgemm 2048³", size: 2048),
        // ResNet 3x3 convs of each UNet level, the 1x1 shortcut and the stride-2 downsampler.
        .conv(name: "conv 320 3x3 @64²", channelsIn: 320, channelsOut: 320, size: 64, kernel: 3, stride: 1, padding: 1),
        .conv(name: "conv 640 3x3 @32²", channelsIn: 640, channelsOut: 640, size: 32, kernel: 3, stride: 1, padding: 1),
        .conv(name: "conv 1280 3x3 @16²", channelsIn: 1280, channelsOut: 1280, size: 16, kernel: 3, stride: 1, padding: 1),
        .conv(name: "conv 1280 3x3 @8²", channelsIn: 1280, channelsOut: 1280, size: 8, kernel: 3, stride: 1, padding: 1),
        .conv(name: "conv 320→640 1x1 @32²", channelsIn: 320, channelsOut: 640, size: 32, kernel: 1, stride: 1, padding: 0),
        .conv(name: "conv 320 3x3/2 @64²", channelsIn: 320, channelsOut: 320, size: 64, kernel: 3, stride: 2, padding: 1),
        // Self-attention over the latent's tokens, and cross-attention to the 77 text tokens
        // (the k/v projections of the 768-wide context give H·D-wide rows like self-attention's).
        .attention(name: "self-attn 4096 tok d40", heads: 8, queryLength: 4096, keyLength: 4096, headDim: 40),
        .attention(name: "self-attn 1024 tok d80", heads: 8, queryLength: 1024, keyLength: 1024, headDim: 80),
        .attention(name: "self-attn 256 tok d160", heads: 8, queryLength: 256, keyLength: 256, headDim: 160),
        .attention(name: "cross-attn 4096→77 d40", heads: 8, queryLength: 4096, keyLength: 77, headDim: 40),
        .attention(name: "cross-attn 1024→77 d80", heads: 8, queryLength: 1024, keyLength: 77, headDim: 80),
        .attention(name: "cross-attn 256→77 d160", heads: 8, queryLength: 256, keyLength: 77, headDim: 160),
        // The pointwise ops at the UNet's first level for a CFG batch of 2 (64x64x320 maps).
        .pointwise(name: "silu 2x64²x320", op: "silu", shape: [2, 4096, 320]),
        .pointwise(name: "gelu 2x64²x1280", op: "gelu", shape: [2, 4096, 1280]),
        .pointwise(name: "geglu 2x64²x2560", op: "geglu", shape: [2, 4096, 2560]),
        .pointwise(name: "groupnorm 2x64²x320", op: "groupnorm", shape: [2, 4096, 320]),
        .pointwise(name: "groupnorm+silu 2x64²x320", op: "groupnorm+silu", shape: [2, 4096, 320]),
        .pointwise(name: "layernorm 2x64²x320", op: "layernorm", shape: [2, 4096, 320]),
        .pointwise(name: "softmax 2x8x4096x77", op: "softmax", shape: [2, 8, 4096, 77]),
        .pointwise(name: "add bias 2x64²x320", op: "add", shape: [2, 4096, 320]),
    ]
}

/// One measured row: a pass of a case.
struct BenchResult: Codable, Sendable {
    var name: String
    var pass: String
    var gflop: Double
    var seconds: Double
    var gflops: Double { gflop / seconds }
}

/// Passes, named the same on both sides. Backward FLOPs follow the usual convention: conv
/// backward 2× forward (1× for the input gradient alone), attention backward 2.5× forward.
enum BenchPass {
    static let forward = "fwd"
    static let backward = "bwd"
    static let backwardInputOnly = "bwd input only"
}

/// Runs the cases on the engine, best of `repeats` after one warm-up run.
struct EngineBenchmark {
    var repeats: Int
    /// Forces a lowering for the convs that support it (nil: the engine's default choice).
    var convMethod: Conv2DMethod? = nil
    /// Only this pass (nil: all of them).
    var onlyPass: String? = nil
    /// Time the calling thread's CPU time instead of wall time (single-threaded runs on a
    /// loaded machine: waiting for a core is then not counted).
    var cpuTime = false

    /// Nanoseconds on the clock the benchmark uses.
    func now() -> UInt64 {
        guard cpuTime else { return DispatchTime.now().uptimeNanoseconds }
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    func wants(_ pass: String) -> Bool { onlyPass == nil || onlyPass == pass }

    func run(_ cases: [BenchCase], report: (BenchResult) -> Void) {
        for c in cases {
            switch c {
            case .gemm(let name, let n): runGEMM(name: name, n: n, report: report)
            case .conv(let name, let cin, let cout, let size, let k, let stride, let padding):
                runConv(name: name, Conv2DShape(batch: 1, height: size, width: size, inChannels: cin, outChannels: cout,
                                                kernelH: k, kernelW: k, stride: stride, padding: padding), report: report)
            case .attention(let name, let heads, let lq, let lk, let d):
                runAttention(name: name, AttentionShape(batch: 1, heads: heads, queryLength: lq, keyLength: lk, headDim: d),
                             report: report)
            case .pointwise(let name, let op, let shape):
                guard let op = PointwiseOp(rawValue: op) else { continue }
                runPointwise(name: name, op, shape: shape, report: report)
            }
        }
    }

    func time(_ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = now()
            body()
            best = min(best, Double(now() - start) / 1e9)
        }
        return best
    }

    func runGEMM(name: String, n: Int, report: (BenchResult) -> Void) {
        let a = BenchBuffer(n * n, seed: 1), b = BenchBuffer(n * n, seed: 2), c = BenchBuffer(n * n, seed: 3)
        let seconds = time { gemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n) }
        report(BenchResult(name: name, pass: BenchPass.forward, gflop: 2 * pow(Double(n), 3) / 1e9, seconds: seconds))
    }

    func runConv(name: String, _ s: Conv2DShape, report: (BenchResult) -> Void) {
        let input = BenchBuffer(s.inputCount, seed: 1)
        let weight = BenchBuffer(s.weightCount, seed: 2, scale: 1 / Float(s.patchSize).squareRoot())
        let bias = BenchBuffer(s.outChannels, seed: 3)
        let output = BenchBuffer(s.outputCount, seed: 4), gradOutput = BenchBuffer(s.outputCount, seed: 5)
        let gradInput = BenchBuffer(s.inputCount, seed: 0), gradWeight = BenchBuffer(s.weightCount, seed: 0)
        let gradBias = BenchBuffer(s.outChannels, seed: 0)
        let gflop = s.forwardFLOPs / 1e9
        let method = convMethod.flatMap { $0.supports(s) && s.kernelH > 1 ? $0 : nil } ?? .default(for: s)

        if wants(BenchPass.forward) {
            let fwd = time {
                conv2dForward(s, method: method, input: input.pointer, weight: weight.pointer, bias: bias.pointer, output: output.pointer)
            }
            report(BenchResult(name: name, pass: BenchPass.forward, gflop: gflop, seconds: fwd))
        }
        if wants(BenchPass.backward) {
            let bwd = time {
                conv2dBackward(s, method: method, input: input.pointer, weight: weight.pointer, gradOutput: gradOutput.pointer,
                               gradInput: gradInput.pointer, gradWeight: gradWeight.pointer, gradBias: gradBias.pointer)
            }
            report(BenchResult(name: name, pass: BenchPass.backward, gflop: 2 * gflop, seconds: bwd))
        }
        if wants(BenchPass.backwardInputOnly) {
            let bwdInput = time {
                conv2dBackward(s, method: method, input: input.pointer, weight: weight.pointer, gradOutput: gradOutput.pointer,
                               gradInput: gradInput.pointer, gradWeight: nil, gradBias: nil)
            }
            report(BenchResult(name: name, pass: BenchPass.backwardInputOnly, gflop: gflop, seconds: bwdInput))
        }
    }

    func runAttention(name: String, _ s: AttentionShape, report: (BenchResult) -> Void) {
        let qCount = s.batch * s.queryLength * s.modelDim, kCount = s.batch * s.keyLength * s.modelDim
        let q = BenchBuffer(qCount, seed: 1), k = BenchBuffer(kCount, seed: 2), v = BenchBuffer(kCount, seed: 3)
        let out = BenchBuffer(qCount, seed: 0), gradOut = BenchBuffer(qCount, seed: 4)
        let lse = BenchBuffer(s.batch * s.heads * s.queryLength, seed: 0)
        let gq = BenchBuffer(qCount, seed: 0), gk = BenchBuffer(kCount, seed: 0), gv = BenchBuffer(kCount, seed: 0)
        let gflop = s.forwardFLOPs / 1e9

        // Backward needs forward's out and logSumExp, so forward always runs at least once.
        let forward = { attentionForward(s, q: q.pointer, k: k.pointer, v: v.pointer, out: out.pointer, logSumExp: lse.pointer) }
        if wants(BenchPass.forward) {
            report(BenchResult(name: name, pass: BenchPass.forward, gflop: gflop, seconds: time(forward)))
        } else {
            forward()
        }
        guard wants(BenchPass.backward) else { return }
        let bwd = time {
            attentionBackward(s, q: q.pointer, k: k.pointer, v: v.pointer, out: out.pointer, logSumExp: lse.pointer,
                              gradOut: gradOut.pointer, gradQ: gq.pointer, gradK: gk.pointer, gradV: gv.pointer)
        }
        report(BenchResult(name: name, pass: BenchPass.backward, gflop: 2.5 * gflop, seconds: bwd))
    }
}

/// The memory-bound ops `bench engine` measures, through the engine's public ops (so the
/// autodiff bookkeeping is part of the figure, as it is in training).
enum PointwiseOp: String {
    case silu, gelu, geglu, groupnorm, groupnormSiLU = "groupnorm+silu", layernorm, softmax, add

    func apply(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        switch self {
        case .silu: return TensorEngine.silu(x)
        case .gelu: return TensorEngine.gelu(x)
        case .geglu: return TensorEngine.geglu(x)
        case .groupnorm: return groupNorm(x, groups: 32, weight: weight, bias: bias)
        case .groupnormSiLU: return groupNorm(x, groups: 32, weight: weight, bias: bias, silu: true)
        case .layernorm: return layerNorm(x, weight: weight, bias: bias)
        case .softmax: return TensorEngine.softmax(x)
        case .add: return x + bias
        }
    }
}

extension EngineBenchmark {
    /// Forward under noGrad; backward from a fresh forward each time, only the backward timed
    /// (as the PyTorch side does). "GFLOP" is the gigabytes read and written here: the rate
    /// column reads GB/s.
    func runPointwise(name: String, _ op: PointwiseOp, shape: [Int], report: (BenchResult) -> Void) {
        let count = shape.reduce(1, *), channels = shape.last ?? 1
        let x = Tensor(BenchBuffer(count, seed: 1).values, shape: shape)
        let weight = Tensor(BenchBuffer(channels, seed: 2).values, shape: [channels])
        let bias = Tensor(BenchBuffer(channels, seed: 3).values, shape: [channels])
        let outCount = op == .geglu ? count / 2 : count
        let gradOut = Tensor(BenchBuffer(outCount, seed: 4).values, shape: Array(shape.dropLast()) + [outCount / (count / channels)])
        let gigabytes = Double(4 * (count + outCount)) / 1e9
        if wants(BenchPass.forward) {
            let seconds = time { _ = noGrad { op.apply(x, weight: weight, bias: bias) } }
            report(BenchResult(name: name, pass: BenchPass.forward, gflop: gigabytes, seconds: seconds))
        }
        if wants(BenchPass.backward) {
            x.requiresGrad = true
            defer { x.requiresGrad = false }
            var best = Double.infinity
            for _ in 0...max(1, repeats) {
                x.grad = nil
                let y = op.apply(x, weight: weight, bias: bias)
                let start = now()
                y.backward(gradient: gradOut)
                best = min(best, Double(now() - start) / 1e9)
            }
            report(BenchResult(name: name, pass: BenchPass.backward, gflop: 2 * gigabytes, seconds: best))
        }
    }
}

/// A heap buffer of uniform values in [-scale, scale) from a fixed-seed generator (values do
/// not matter for speed, but the same run should do the same work).
final class BenchBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int, seed: UInt64, scale: Float = 1) {
        self.count = count
        pointer = .allocate(capacity: count)
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let unit = Float(state >> 40) / Float(1 << 24)
            pointer[i] = seed == 0 ? 0 : (2 * unit - 1) * scale
        }
    }

    var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    deinit { pointer.deallocate() }
}

/// Peak resident set size of this process (VmHWM), in MiB.
func peakResidentMiB() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kib = line.split(separator: " ").compactMap { Double($0) }.first
        return kib.map { $0 / 1024 }
    }
    return nil
}
