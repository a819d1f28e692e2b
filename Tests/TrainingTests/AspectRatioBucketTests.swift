import Foundation
import Testing
import Imaging
import TensorEngine
@testable import Training
import TestSupport

/// train.buckets: the sizes on offer, which size an image gets, batches of one size only, and
/// a real run on sd1-tiny with images of three shapes.
@Suite struct AspectRatioBucketTests {
    @Test func sizesKeepTheAreaAndTheModelsStep() {
        let buckets = AspectRatioBuckets(resolution: 512, step: 64)
        #expect(buckets.sizes.contains(BucketSize(width: 512, height: 512)))
        for s in buckets.sizes {
            #expect(s.width % 64 == 0 && s.height % 64 == 0, "\(s)")
            #expect(s.width * s.height <= 512 * 512, "\(s) is larger than 512²")
            // Within one step of resolution² (the other side rounded down to the step).
            #expect((s.width + 64) * s.height > 512 * 512 || s.width * (s.height + 64) > 512 * 512, "\(s) wastes a whole step")
            #expect((256...1024).contains(s.width) && (256...1024).contains(s.height), "\(s)")
        }
        // Every shape has its mirror.
        #expect(Set(buckets.sizes.map { BucketSize(width: $0.height, height: $0.width) }) == Set(buckets.sizes))
    }

    @Test func imagesGoToTheNearestAspectRatio() {
        let buckets = AspectRatioBuckets(resolution: 512, step: 64)
        // Square → square; 3:2 (log 0.405) is nearest 640x384 (5:3, log 0.511) rather than
        // 576x448 (9:7, log 0.251); 16:9 too; exactly 4:1 → 1024x256; and their portraits.
        #expect(buckets.size(forWidth: 3000, height: 3000) == BucketSize(width: 512, height: 512))
        #expect(buckets.size(forWidth: 1200, height: 800) == BucketSize(width: 640, height: 384))
        #expect(buckets.size(forWidth: 800, height: 1200) == BucketSize(width: 384, height: 640))
        #expect(buckets.size(forWidth: 1920, height: 1080) == BucketSize(width: 640, height: 384))
        #expect(buckets.size(forWidth: 4000, height: 1000) == BucketSize(width: 1024, height: 256))
        // Beyond the widest bucket: the widest.
        #expect(buckets.size(forWidth: 9000, height: 100) == BucketSize(width: 1024, height: 256))
        // The small default model's step: 32 px at step 16.
        let small = AspectRatioBuckets(resolution: 32, step: 16)
        #expect(small.sizes == [BucketSize(width: 16, height: 48), BucketSize(width: 16, height: 64), BucketSize(width: 32, height: 32),
                                BucketSize(width: 48, height: 16), BucketSize(width: 64, height: 16)])
    }

    @Test func transformCoversTheBucketAndCutsTheCentre() {
        let transform = TrainingTransform(resolution: 512)
        var image = RGBImage(width: 1200, height: 800)
        for y in 0..<800 { for x in 0..<1200 { image[x, y] = (UInt8(x * 255 / 1199), UInt8(y * 255 / 799), 0) } }
        let out = transform.apply(image, width: 640, height: 384)
        #expect((out.width, out.height) == (640, 384))
        // 1200x800 scaled to cover 640x384 is 640x427: the whole width stays (red 0…255), the
        // height loses 21 rows at top and bottom.
        #expect(out[0, 192].0 <= 2 && out[639, 192].0 >= 253)
        #expect((12...14).contains(Int(out[320, 0].1)) && (240...243).contains(Int(out[320, 383].1)))
        let exact = transform.apply(out, width: 640, height: 384)
        #expect(exact.pixels == out.pixels)
    }

    /// Examples of three latent sizes (5, 3 and 1 of them); example i's latents are all i.
    static func mixedExamples() -> [TrainingExample] {
        let shapes = Array(repeating: [1, 2, 2, 4], count: 5) + Array(repeating: [1, 2, 3, 4], count: 3) + [[1, 3, 2, 4]]
        return shapes.enumerated().map { TrainingExample(latents: Tensor(repeating: Float($0), shape: $1), tokenIDs: [$0]) }
    }

    @Test func batchesNeverMixSizesAndEveryExampleComesOncePerEpoch() {
        let examples = Self.mixedExamples()
        var sampler = BatchSampler(examples: examples, batchSize: 2, numTrainTimesteps: 1000, bucketed: true, seed: 4)
        var epochs: [[Int]] = []
        for _ in 0..<5 {
            // 3 + 2 + 1 batches per epoch: [2, 2, 1] of the 5, [2, 1] of the 3, [1] of the 1.
            var epoch: [Int] = [], lengths: [Int] = []
            for _ in 0..<6 {
                let batch = sampler.next()
                let ids = (0..<batch.count).map { k in Int(batch.latents.data[k * batch.latents.count / batch.count]) }
                let shapes = Set(ids.map { examples[$0].latents.shape })
                #expect(shapes.count == 1, "a batch mixes sizes: \(ids)")
                #expect(batch.latents.shape == [ids.count] + examples[ids[0]].latents.shape.dropFirst())
                guard case .tokenIDs(let tokens) = batch.conditioning else { Issue.record("expected token ids"); return }
                #expect(tokens.map { $0[0] } == ids)
                epoch += ids
                lengths.append(ids.count)
            }
            #expect(epoch.sorted() == Array(0..<9), "epoch \(epochs.count): \(epoch)")
            #expect(lengths.sorted() == [1, 1, 1, 2, 2, 2])
            epochs.append(epoch)
        }
        #expect(Set(epochs).count > 1, "every epoch in the same order")
    }

    @Test func bucketedSamplerResumesFromItsSavedState() throws {
        var first = BatchSampler(examples: Self.mixedExamples(), batchSize: 2, numTrainTimesteps: 1000, bucketed: true, seed: 8)
        for _ in 0..<4 { _ = first.next() }
        let saved = try JSONDecoder().decode(BatchSampler.State.self, from: JSONEncoder().encode(first.state))
        #expect(saved.batchLengths != nil)
        var resumed = BatchSampler(examples: Self.mixedExamples(), batchSize: 2, numTrainTimesteps: 1000, bucketed: true, seed: 8)
        resumed.restore(saved)
        for _ in 0..<9 {  // across the epoch boundary
            let (a, b) = (first.next(), resumed.next())
            #expect(a.latents.scalars == b.latents.scalars && a.timesteps == b.timesteps && a.noise.scalars == b.noise.scalars)
        }
        // A sampler without buckets writes no batch lengths: its checkpoints read as before.
        let plain = BatchSampler(examples: Array(Self.mixedExamples()[..<5]), batchSize: 2, numTrainTimesteps: 1000, seed: 8)
        let json = String(decoding: try JSONEncoder().encode(plain.state), as: UTF8.self)
        #expect(!json.contains("batchLengths"))
    }

    /// Three shapes at 16 px on sd1-tiny (size step 4): 40x16 → 24x8, 16x40 → 8x24, 20x20 →
    /// 16x16; latents cached at those sizes, steps train, and a resumed run matches.
    @Test func shortRunWithBucketsTrainsAndResumes() throws {
        let shapes = [(40, 16), (16, 40), (20, 20), (42, 16)]
        let images = shapes.enumerated().map { k, size in
            var pixels: [UInt8] = []
            for y in 0..<size.1 { for x in 0..<size.0 { pixels += [UInt8((x * 9 + k * 50) % 256), UInt8((y * 11) % 256), UInt8((x + y + k * 70) % 256)] } }
            return TrainingImage(name: "img\(k).png", image: RGBImage(width: size.0, height: size.1, pixels: pixels), caption: "a photo of sks \(k)")
        }
        var options = TrainingRunTests.loraOptions(steps: 4)
        options.buckets = true
        options.centerCrop = true
        options.batchSize = 2
        let run = try TrainingRun(basePath: TrainingRunTests.sd1Tiny, options: options, images: images)
        let latentSizes = run.sampler.examples.map { Array($0.latents.shape[1...2]) }
        // The tiny VAE halves once: 24x8 px → 4 rows of 12.
        #expect(latentSizes == [[4, 12], [12, 4], [8, 8], [4, 12]])
        let losses = (0..<4).map { _ in run.trainStep().loss }
        #expect(losses.allSatisfy { $0.isFinite && $0 > 0 })

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dropbooth-buckets-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try TrainingRun(basePath: TrainingRunTests.sd1Tiny, options: options, images: images)
        let before = (0..<2).map { _ in first.trainStep().loss }
        try first.saveCheckpoint(to: path)
        let resumed = try TrainingRun(basePath: TrainingRunTests.sd1Tiny, options: options, images: images)
        try resumed.restore(from: path)
        let after = (0..<2).map { _ in resumed.trainStep().loss }
        expectClose(before + after, losses, rtol: 1e-5, atol: 0, "losses of the resumed bucketed run")

        var prior = options
        prior.loss.priorLossWeight = 1
        #expect(throws: TrainingRunError.self) { _ = try TrainingRun(basePath: TrainingRunTests.sd1Tiny, options: prior, images: images, classImages: images) }
        var randomCrop = options
        randomCrop.centerCrop = false
        #expect(throws: TrainingRunError.self) { _ = try TrainingRun(basePath: TrainingRunTests.sd1Tiny, options: randomCrop, images: images) }
    }
}
