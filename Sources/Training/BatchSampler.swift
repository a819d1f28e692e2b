// Draws micro-batches from cached examples: which examples (a seeded shuffle per epoch), the
// noise, the noise-offset draws and the timesteps. All randomness of training comes from here,
// and its whole state (generator position, epoch order, position in it) is a small Codable
// value: saved in a checkpoint, a resumed run draws exactly the batches an uninterrupted one
// would have.

import TensorEngine

/// One cached example: VAE latents (× scaling factor) [1, H, W, C] and what conditions them.
public struct TrainingExample {
    /// The latents, or with `latentStd` the mean of the VAE's latent distribution.
    public var latents: Tensor
    /// The distribution's standard deviation (× scaling factor): when set, each use draws
    /// latents + std · ε from the sampler's generator, as diffusers' latent_dist.sample() does
    /// every step; nil: the latents are used as they are.
    public var latentStd: Tensor?
    /// The left-right mirrored image's mean and std (random_flip): each use takes one of the
    /// two with probability ½.
    public var flippedLatents: Tensor?
    public var flippedLatentStd: Tensor?
    /// Token ids [L] (text encoder runs in the step) …
    public var tokenIDs: [Int]?
    /// … or cached text-encoder states [1, L, D].
    public var hiddenStates: Tensor?
    /// Which subject of the job the example shows (or, for a class example, whose class it
    /// is): with prior preservation an instance example is paired with its own subject's
    /// class examples only.
    public var subject: Int = 0

    public init(latents: Tensor, tokenIDs: [Int]) {
        self.latents = latents; self.tokenIDs = tokenIDs; hiddenStates = nil
    }
    public init(latents: Tensor, hiddenStates: Tensor) {
        self.latents = latents; self.tokenIDs = nil; self.hiddenStates = hiddenStates
    }
}

public struct BatchSampler {
    public struct State: Sendable, Codable, Equatable {
        public var random: RandomState
        /// The current epoch's order of instance examples.
        public var order: [Int]
        /// How many of `order` were used.
        public var position: Int
        public var epoch: Int
        /// Bucketed samplers only: the current epoch's batches, as the lengths of the
        /// consecutive runs of `order` that make them (each run one bucket's examples).
        public var batchLengths: [Int]? = nil
    }

    public let examples: [TrainingExample]
    /// Prior-preservation class examples: each batch appends as many as it has instance
    /// examples, each instance slot taking one of its own subject's class examples, the one
    /// at (the slot's position in the data stream) mod (that subject's class count). With one
    /// subject this is diffusers' DreamBooth dataset pairing exactly.
    public let classExamples: [TrainingExample]
    /// Per subject, the indices of its class examples in `classExamples`.
    let classExamplesBySubject: [Int: [Int]]
    public let batchSize: Int
    public let numTrainTimesteps: Int
    /// Draw [N, C] normals for the noise offset.
    public let drawsOffsetNoise: Bool
    /// Aspect-ratio buckets: examples come in several latent sizes, and each batch takes
    /// examples of one size only. Per epoch, every bucket's examples (in the epoch's shuffled
    /// order) are cut into batches of `batchSize`, the last one of a bucket shorter when its
    /// count does not divide evenly, and the batches of all buckets are shuffled together:
    /// every example once per epoch, as without buckets.
    public let bucketed: Bool
    public private(set) var state: State

    public init(examples: [TrainingExample], classExamples: [TrainingExample] = [], batchSize: Int, numTrainTimesteps: Int,
                drawsOffsetNoise: Bool = false, bucketed: Bool = false, seed: UInt64) {
        precondition(!examples.isEmpty && batchSize > 0, "a sampler needs examples and a positive batch size")
        let shape = examples[0].latents.shape
        if bucketed {
            // A prior-preservation batch joins instance and class latents in one tensor.
            precondition(classExamples.isEmpty, "a bucketed sampler takes no class examples")
            precondition(examples.allSatisfy { $0.latents.rank == 4 && $0.latents.shape[3] == shape[3] && $0.latents.shape[0] == 1 },
                         "every example needs latents [1, h, w, \(shape[3])]")
        } else {
            precondition((examples + classExamples).allSatisfy { $0.latents.shape == shape }, "every example needs latents of shape \(shape) (one resolution per sampler)")
        }
        self.bucketed = bucketed
        classExamplesBySubject = Dictionary(grouping: classExamples.indices, by: { classExamples[$0].subject })
        if !classExamples.isEmpty {
            for subject in Set(examples.map(\.subject)) {
                precondition(classExamplesBySubject[subject] != nil, "subject \(subject) has instance examples but no class examples")
            }
        }
        self.examples = examples; self.classExamples = classExamples; self.batchSize = batchSize
        self.numTrainTimesteps = numTrainTimesteps; self.drawsOffsetNoise = drawsOffsetNoise
        var rng = PhiloxRandom(seed: seed)
        state = State(random: rng.state, order: [], position: 0, epoch: 0)
        startEpoch(&rng)
        state.random = rng.state
    }

    /// Continues from a saved state (the examples must be the same, in the same order).
    public mutating func restore(_ saved: State) {
        precondition(saved.order.sorted() == Array(examples.indices), "saved data order is for \(saved.order.count) examples, have \(examples.count)")
        precondition((saved.batchLengths != nil) == bucketed, "the saved state is \(saved.batchLengths == nil ? "without" : "with") buckets, this sampler \(bucketed ? "has them" : "has none")")
        state = saved
    }

    /// A new epoch's order (and with buckets its batches), position 0.
    private mutating func startEpoch(_ rng: inout PhiloxRandom) {
        let shuffled = rng.shuffled(Array(examples.indices))
        state.position = 0
        guard bucketed else { state.order = shuffled; return }
        var buckets: [[Int]] = []
        var bucketOf: [[Int]: Int] = [:]
        for i in shuffled {
            let size = Array(examples[i].latents.shape[1...2])
            if let b = bucketOf[size] { buckets[b].append(i) } else { bucketOf[size] = buckets.count; buckets.append([i]) }
        }
        let batches = buckets.flatMap { bucket in
            stride(from: 0, to: bucket.count, by: batchSize).map { Array(bucket[$0..<min($0 + batchSize, bucket.count)]) }
        }
        let batchOrder = rng.shuffled(Array(batches.indices))
        state.order = batchOrder.flatMap { batches[$0] }
        state.batchLengths = batchOrder.map { batches[$0].count }
    }

    public mutating func next() -> TrainingBatch {
        var rng = PhiloxRandom(state: state.random)
        var chosen: [Int] = []
        var positions: [Int] = []
        if bucketed {
            if state.position == state.order.count {
                startEpoch(&rng)
                state.epoch += 1
            }
            // The batch starting at `position`: batches are consecutive runs of the order.
            var start = 0, k = 0
            let lengths = state.batchLengths ?? []
            while start < state.position { start += lengths[k]; k += 1 }
            precondition(start == state.position && k < lengths.count, "sampler position \(state.position) is not at a batch boundary")
            chosen = Array(state.order[start..<(start + lengths[k])])
            positions = Array(start..<(start + lengths[k])).map { state.epoch * examples.count + $0 }
            state.position += lengths[k]
        } else {
            for _ in 0..<batchSize {
                if state.position == state.order.count {
                    startEpoch(&rng)
                    state.epoch += 1
                }
                positions.append(state.epoch * examples.count + state.position)
                chosen.append(state.order[state.position])
                state.position += 1
            }
        }
        var items = chosen.map { examples[$0] }
        if !classExamples.isEmpty {
            items += zip(chosen, positions).map { example, position in
                let own = classExamplesBySubject[examples[example].subject]!
                return classExamples[own[position % own.count]]
            }
        }

        let one = items[0].latents.shape
        let shape = [items.count] + one.dropFirst()
        let noise = rng.normal(shape: shape)
        let offset = drawsOffsetNoise ? rng.normal(shape: [shape[0], shape[3]]) : nil
        let timesteps = items.map { _ in rng.nextInt(below: numTrainTimesteps) }
        // Drawn after the rest, and only for examples that have a distribution or a mirror, so
        // runs on fixed latents draw what they always drew. Each example's latents are made
        // once and joined once (no batch of means built only to be replaced).
        let latents: Tensor
        if items.contains(where: { $0.latentStd != nil || $0.flippedLatents != nil }) {
            latents = concat(items.map { item -> Tensor in
                var (mean, std) = (item.latents, item.latentStd)
                if let flipped = item.flippedLatents, rng.nextInt(below: 2) == 1 { (mean, std) = (flipped, item.flippedLatentStd) }
                guard let std else { return mean }
                let eps = rng.normal(shape: mean.shape)
                let out = Tensor(uninitializedShape: mean.shape)
                let (m, d, n, o) = (mean.data, std.data, eps.data, out.data)
                for i in 0..<mean.count { o[i] = m[i] + d[i] * n[i] }
                return out
            }, axis: 0)
        } else {
            latents = concat(items.map(\.latents), axis: 0)
        }
        let conditioning: Conditioning
        if items[0].hiddenStates != nil {
            precondition(items.allSatisfy { $0.hiddenStates != nil }, "examples mix token ids and cached states")
            conditioning = .hiddenStates(concat(items.map { $0.hiddenStates! }, axis: 0))
        } else {
            conditioning = .tokenIDs(items.map { $0.tokenIDs! })
        }
        state.random = rng.state
        return TrainingBatch(latents: latents, noise: noise, offsetNoise: offset, timesteps: timesteps, conditioning: conditioning)
    }
}
