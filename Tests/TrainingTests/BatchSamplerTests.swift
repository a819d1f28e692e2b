import Testing
import TensorEngine
@testable import Training

/// The sampler's data order, prior-preservation pairing and determinism.
@Suite struct BatchSamplerTests {
    /// Example i's latents are all equal to i (class examples: 100 + i), so a batch shows
    /// which examples it took.
    func examples(_ n: Int, base: Float = 0) -> [TrainingExample] {
        (0..<n).map { TrainingExample(latents: Tensor(repeating: base + Float($0), shape: [1, 2, 2, 4]), tokenIDs: [$0]) }
    }
    func taken(_ batch: TrainingBatch) -> [Int] {
        (0..<batch.count).map { Int(batch.latents.data[$0 * 16]) }
    }

    @Test func everyExampleOncePerEpochThenReshuffled() {
        var sampler = BatchSampler(examples: examples(5), batchSize: 1, numTrainTimesteps: 1000, seed: 9)
        let epochs = (0..<4).map { _ in (0..<5).flatMap { _ in taken(sampler.next()) } }
        for e in epochs { #expect(e.sorted() == [0, 1, 2, 3, 4]) }
        #expect(Set(epochs).count > 1, "four epochs in the same order: the order is not reshuffled")
        #expect(sampler.state.epoch == 3)
    }

    @Test func priorPreservationAppendsClassExamples() {
        var sampler = BatchSampler(examples: examples(3), classExamples: examples(2, base: 100), batchSize: 2,
                                   numTrainTimesteps: 1000, drawsOffsetNoise: true, seed: 1)
        let batch = sampler.next()
        let ids = taken(batch)
        #expect(batch.count == 4 && batch.timesteps.count == 4 && batch.offsetNoise?.shape == [4, 4])
        #expect(ids[..<2].allSatisfy { $0 < 3 } && ids[2...].allSatisfy { $0 >= 100 }, "instance half first, class half second: \(ids)")
        #expect(Array(ids[2...]) == [100, 101])
        guard case .tokenIDs(let tokens) = batch.conditioning else { Issue.record("expected token ids"); return }
        #expect(tokens.map { $0[0] } == [ids[0], ids[1], 0, 1])
    }

    /// Two subjects of different classes (a dog: instance 0–2, class 100–101; a cat: instance
    /// 10–11, class 200–202): every class slot holds a class image of its instance's subject,
    /// and over the epochs each subject's class images are all used.
    @Test func classImagesArePairedWithTheirOwnSubject() {
        func tagged(_ values: [Int], subject: Int) -> [TrainingExample] {
            values.map {
                var e = TrainingExample(latents: Tensor(repeating: Float($0), shape: [1, 2, 2, 4]), tokenIDs: [$0])
                e.subject = subject
                return e
            }
        }
        let instances = tagged([0, 1, 2], subject: 0) + tagged([10, 11], subject: 1)
        // Class examples interleaved, so pairing by position in the list would mix them.
        let classes = tagged([100], subject: 0) + tagged([200, 201], subject: 1) + tagged([101], subject: 0) + tagged([202], subject: 1)
        let classOf = [0: Set([100, 101]), 1: Set([200, 201, 202])]
        var used: [Int: Set<Int>] = [:]
        for batchSize in [1, 2, 3] {
            var sampler = BatchSampler(examples: instances, classExamples: classes, batchSize: batchSize, numTrainTimesteps: 1000, seed: 3)
            for _ in 0..<12 {
                let batch = sampler.next()
                let ids = taken(batch)
                #expect(batch.count == 2 * batchSize)
                for k in 0..<batchSize {
                    let subject = ids[k] < 10 ? 0 : 1
                    #expect(classOf[subject]!.contains(ids[batchSize + k]), "instance \(ids[k]) paired with class image \(ids[batchSize + k]): \(ids)")
                    used[subject, default: []].insert(ids[batchSize + k])
                }
                guard case .tokenIDs(let tokens) = batch.conditioning else { Issue.record("expected token ids"); return }
                #expect(tokens.map { $0[0] } == ids, "captions travel with their latents")
            }
        }
        #expect(used == classOf)
    }

    @Test func sameSeedSameBatches() {
        var a = BatchSampler(examples: examples(4), batchSize: 2, numTrainTimesteps: 1000, seed: 42)
        var b = BatchSampler(examples: examples(4), batchSize: 2, numTrainTimesteps: 1000, seed: 42)
        for _ in 0..<3 {
            let (x, y) = (a.next(), b.next())
            #expect(x.timesteps == y.timesteps && x.noise.scalars == y.noise.scalars && taken(x) == taken(y))
            #expect(x.timesteps.allSatisfy { (0..<1000).contains($0) })
        }
    }
}

/// The learning-rate schedule is applied per optimiser step (warmup starts at zero, as
/// diffusers' LambdaLR at step 0).
@Suite struct LearningRateStepTests {
    @Test func warmupThenLinearDecay() throws {
        let (unet, text, schedule) = try TrainingFixture("lora_unet").models()
        let params = LoRAInjection.inject(into: unet, LoRAOptions(rank: 2, alpha: 2, targets: [.attention], seed: 1))
        let trainer = DiffusionTrainer(unet: unet, textEncoder: text, schedule: schedule, parameters: params,
                                       optimizer: OptimizerOptions(learningRate: 1e-2, schedule: .linear, warmupSteps: 2, totalSteps: 4))
        var sampler = BatchSampler(examples: [TrainingExample(latents: Tensor(repeating: 0.5, shape: [1, 8, 8, 4]), tokenIDs: [512, 7, 513])],
                                   batchSize: 1, numTrainTimesteps: schedule.numTrainTimesteps, seed: 2)
        let rates = (0..<4).map { _ in trainer.trainStep([sampler.next()]).report.learningRate }
        #expect(rates == [0, 5e-3, 1e-2, 5e-3])
        #expect(trainer.step == 4)
    }
}
