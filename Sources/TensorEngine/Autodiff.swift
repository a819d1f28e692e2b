// Reverse-mode automatic differentiation.
//
// The graph is implicit: a tensor produced by an op while recording holds a `GradNode` with the
// op's inputs and a backward closure. Nothing is recorded when no input requires a gradient,
// so inference and frozen sub-graphs cost nothing extra, and a frozen weight never gets a
// gradient buffer: every backward closure is told which inputs need one (`ctx.needsGrad(i)`)
// and skips the rest (no weight-gradient GEMM for frozen layers).
//
// Writing a differentiable op (the pattern every op in Ops/ follows):
//
//     public func silu(_ x: Tensor) -> Tensor {
//         let y = Tensor(uninitializedShape: x.shape)
//         siluForward(x.data, y.data, x.count)                  // the raw-pointer kernel
//         return y.recorded("silu", inputs: [x]) { ctx in       // no-op unless x requires grad
//             let dx = Tensor(uninitializedShape: x.shape)
//             siluBackward(x.data, ctx.gradOutput.data, dx.data, x.count)
//             return [dx]                                       // one entry per input (nil = none)
//         }
//     }
//
// Memory: the graph links nodes to nodes, not tensors to tensors, so recording keeps no
// activation alive by itself. Only what a backward closure captures is kept (the input of
// SiLU, the x of a linear layer — never the output of a residual add), plus, for ops that
// ask (`savesOutput: true`, e.g. softmax), their output, read back as `ctx.output`; capturing
// the output tensor itself would make a cycle. Capture shapes, not tensors, when only the
// shape is needed. After `backward()` every node on the path drops its closure, so saved
// activations are released as soon as they are used, and a graph can be differentiated once.
//
// Gradient checkpointing: `checkpoint(inputs) { inputs in ... }` runs a block without recording
// its inner ops (their activations are freed at once) and records one node; its backward
// recomputes the block with recording on and back-propagates through that copy. Trainable
// leaves used inside the block (LoRA weights) get their gradients as usual; any non-leaf tensor
// the block uses must be passed in `inputs`.
//
// Recording state lives in a task-local, so concurrent tests or tasks do not see each other's
// `noGrad` or checkpoint blocks.

/// Where an op's input came from, as far as gradients are concerned.
enum GradInput {
    /// The output of a recorded op.
    case node(GradNode)
    /// A trainable leaf (a parameter): its gradient accumulates into `grad`.
    case leaf(Tensor)
    /// Needs no gradient.
    case constant

    init(_ t: Tensor) {
        if let n = t.gradNode { self = .node(n) } else if t.requiresGrad { self = .leaf(t) } else { self = .constant }
    }

    var needsGrad: Bool { if case .constant = self { return false } else { return true } }
}

/// One recorded op: the producer of one tensor.
final class GradNode {
    let name: String
    /// The output's shape (its gradient must have it).
    let shape: [Int]
    var inputs: [GradInput]
    var backward: ((BackwardContext) -> [Tensor?])?
    /// The output's values, kept only for ops that asked (`savesOutput`).
    var savedOutput: TensorStorage?
    /// The checkpoint recomputation this node was created in (nil: the outer graph).
    let scope: RecomputeScope?

    init(name: String, shape: [Int], inputs: [GradInput], savedOutput: TensorStorage?, scope: RecomputeScope?,
         backward: @escaping (BackwardContext) -> [Tensor?]) {
        self.name = name; self.shape = shape; self.inputs = inputs; self.savedOutput = savedOutput
        self.scope = scope; self.backward = backward
    }

    func release() { inputs = []; backward = nil; savedOutput = nil }
}

/// What a backward closure receives.
public struct BackwardContext {
    /// dLoss/dOutput, same shape as the output.
    public let gradOutput: Tensor
    let savedOutput: Tensor?
    let needs: [Bool]
    /// The op's output values; only for ops recorded with `savesOutput: true`.
    public var output: Tensor {
        guard let savedOutput else { preconditionFailure("ctx.output needs the op to be recorded with savesOutput: true") }
        return savedOutput
    }
    /// Whether input `i` needs a gradient; return nil for it when it does not.
    public func needsGrad(_ i: Int) -> Bool { needs[i] }
}

final class RecomputeScope: @unchecked Sendable {}

/// Set while running a block without recording, to learn whether any op inside saw an input
/// that requires a gradient (then the checkpointed block must be recorded).
final class TrainableProbe: @unchecked Sendable { var sawTrainableInput = false }

enum RecordingState: Sendable {
    case on(scope: RecomputeScope?)
    case off(probe: TrainableProbe?)
}

public enum Autograd {
    @TaskLocal static var state: RecordingState = .on(scope: nil)

    /// Whether ops called now record onto the graph.
    public static var isRecording: Bool {
        if case .on = state { return true }
        return false
    }
}

/// Runs `body` without recording: for sampling, evaluation, and optimiser updates.
public func noGrad<R>(_ body: () throws -> R) rethrows -> R {
    try Autograd.$state.withValue(.off(probe: nil)) { try body() }
}

extension Tensor {
    /// Attaches a backward closure to `self`, the freshly computed output of an op with the
    /// given inputs, when recording and some input requires a gradient. Returns `self`.
    /// `backward` returns one gradient per input, each of that input's shape (or nil when
    /// `ctx.needsGrad(i)` is false). `savesOutput` keeps this output's values for
    /// `ctx.output`.
    public func recorded(_ name: String, inputs: [Tensor], savesOutput: Bool = false,
                         backward: @escaping (BackwardContext) -> [Tensor?]) -> Tensor {
        precondition(gradNode == nil && !requiresGrad, "\(name): output already belongs to a graph")
        guard inputs.contains(where: { $0.requiresGrad }) else { return self }
        switch Autograd.state {
        case .off(let probe):
            probe?.sawTrainableInput = true
        case .on(let scope):
            gradNode = GradNode(name: name, shape: shape, inputs: inputs.map(GradInput.init),
                                savedOutput: savesOutput ? storage : nil, scope: scope, backward: backward)
        }
        return self
    }

    /// Back-propagates from this one-element tensor (the loss), seeding with 1.
    public func backward() {
        precondition(count == 1, "backward() needs a scalar loss; shape is \(shape). Use backward(gradient:)")
        backward(gradient: Tensor(repeating: 1, shape: shape))
    }

    /// Back-propagates `gradient` (dLoss/dSelf, of self's shape) through the recorded graph,
    /// adding into `grad` of every trainable leaf reached.
    public func backward(gradient: Tensor) {
        precondition(gradient.shape == shape, "gradient shape \(gradient.shape) does not match \(shape)")
        runBackward(from: self, gradient: gradient, scope: nil)
    }
}

/// Adds `g` into a trainable leaf's `grad`. The first gradient is copied: `grad` outlives the
/// pass and must not share storage with another tensor's gradient.
func accumulateLeafGradient(_ g: Tensor, into leaf: Tensor) {
    precondition(g.shape == leaf.shape, "gradient of shape \(g.shape) for a tensor of shape \(leaf.shape)")
    if let existing = leaf.grad { addInPlace(existing, g) } else { leaf.grad = g.copy() }
}

/// The backward pass: topological order over the nodes reachable from `root`, then each node's
/// closure in reverse order. Intermediate gradients are dropped as soon as they are consumed.
/// In a checkpoint recomputation (`scope` non-nil) only nodes of that recomputation are visited.
func runBackward(from root: Tensor, gradient: Tensor, scope: RecomputeScope?) {
    guard let rootNode = root.gradNode else {
        if root.requiresGrad { accumulateLeafGradient(gradient, into: root) }
        return
    }

    // Iterative post-order DFS over nodes.
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(GradNode, Bool)] = [(rootNode, false)]
    while let (node, expanded) = stack.popLast() {
        if expanded { order.append(node); continue }
        guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
        precondition(node.backward != nil, "backward through '\(node.name)' a second time: its graph was already released")
        precondition(node.scope === scope, "a checkpointed block used a non-leaf tensor from outside it; pass that tensor in the checkpoint's inputs")
        stack.append((node, true))
        for case .node(let input) in node.inputs { stack.append((input, false)) }
    }

    var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(rootNode): gradient]
    // Gradients we allocated while summing, so further contributions can be added in place.
    // Others may be shared (e.g. add() passes one gradient to both inputs) and are not mutated.
    var owned = Set<ObjectIdentifier>()

    func accumulate(_ g: Tensor, into node: GradNode) {
        precondition(g.shape == node.shape, "\(node.name): gradient of shape \(g.shape) for an output of shape \(node.shape)")
        let key = ObjectIdentifier(node)
        if let existing = grads[key] {
            if owned.contains(key) { addInPlace(existing, g) } else {
                let sum = existing.copy(); addInPlace(sum, g)
                grads[key] = sum; owned.insert(key)
            }
        } else {
            grads[key] = g
        }
    }

    for node in order.reversed() {
        guard let g = grads.removeValue(forKey: ObjectIdentifier(node)), let backward = node.backward else {
            node.release(); continue
        }
        let needs = node.inputs.map(\.needsGrad)
        let output = node.savedOutput.map { Tensor(shape: node.shape, storage: $0) }
        let inputGrads = backward(BackwardContext(gradOutput: g, savedOutput: output, needs: needs))
        precondition(inputGrads.count == node.inputs.count, "\(node.name): backward returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
        for (input, ig) in zip(node.inputs, inputGrads) {
            switch input {
            case .constant: continue
            case .node(let producer):
                guard let ig else { preconditionFailure("\(node.name): no gradient for an input that requires one") }
                accumulate(ig, into: producer)
            case .leaf(let leaf):
                guard let ig else { preconditionFailure("\(node.name): no gradient for an input that requires one") }
                accumulateLeafGradient(ig, into: leaf)
            }
        }
        node.release()
    }
}

/// a += b elementwise (same shape).
func addInPlace(_ a: Tensor, _ b: Tensor) {
    precondition(a.count == b.count)
    let (pa, pb) = (a.data, UnsafePointer(b.data))
    parallelChunks(a.count, minimumPerThread: 1 << 15) { r in
        for i in r { pa[i] += pb[i] }
    }
}

/// Gradient checkpointing: runs `body` on `inputs` without keeping its intermediate
/// activations; in backward, runs it again with recording on and back-propagates through it.
/// `body` must compute the same thing both times (no randomness drawn inside). Non-leaf
/// tensors the block uses must come through `inputs`; trainable leaves (parameters) may be
/// captured directly.
public func checkpoint(_ inputs: [Tensor], _ body: @escaping ([Tensor]) -> Tensor) -> Tensor {
    guard case .on = Autograd.state else { return body(inputs) }
    let probe = TrainableProbe()
    let value = Autograd.$state.withValue(.off(probe: probe)) { body(inputs) }
    guard probe.sawTrainableInput || inputs.contains(where: { $0.requiresGrad }) else { return value }
    // A fresh tensor object (same storage) so the node is not attached to anything the block returned.
    let out = Tensor(shape: value.shape, storage: value.storage)
    let recordedInputs = inputs
    // Force recording even when no explicit input requires grad (only inner parameters do):
    // `recorded` looks at the inputs, so give the node a marker input in that case.
    let marker = Tensor(zeros: [])
    marker.requiresGrad = true
    let nodeInputs = recordedInputs + [marker]
    return out.recorded("checkpoint", inputs: nodeInputs) { ctx in
        let replicas = recordedInputs.map { input -> Tensor in
            let r = input.detached()
            r.requiresGrad = input.requiresGrad
            return r
        }
        let scope = RecomputeScope()
        let recomputed = Autograd.$state.withValue(.on(scope: scope)) { body(replicas) }
        precondition(recomputed.shape == ctx.gradOutput.shape, "checkpointed block returned shape \(recomputed.shape) on recomputation, \(ctx.gradOutput.shape) the first time")
        Autograd.$state.withValue(.on(scope: scope)) {
            runBackward(from: recomputed, gradient: ctx.gradOutput, scope: scope)
        }
        var grads: [Tensor?] = []
        for (i, r) in replicas.enumerated() {
            if ctx.needsGrad(i) { grads.append(r.grad ?? Tensor(zeros: r.shape)) } else { grads.append(nil) }
        }
        grads.append(Tensor(zeros: []))  // the marker (a throwaway leaf)
        return grads
    }
}
