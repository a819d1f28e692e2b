/// Defaults per method, from what the seed write-ups found to work (shared/seeds/):
///
/// - DreamBooth: 400 steps at a constant 5e-6 with the text encoder trained and prior
///   preservation at weight 1.0 (seed 001; seed 000 found 2e-6…5e-6 and ~200 class images
///   best, and that training the text encoder helps). We default to 100 class images because
///   each one the user does not provide is generated on the CPU.
/// - LoRA: 1e-4 constant (seeds 000, 001), ~1000 steps for a face with 5–6 photos (seed 003),
///   rank 4 on the attention projections (the diffusers default).
/// - Textual inversion: 5e-4 for 2000 steps, effective batch 4, checkpoints every 250 steps
///   (seeds 000 and 004); batch 1 × accumulation 4 keeps the same batch in a quarter of the memory.
/// - Samples: PNDM with 50 steps scored best in seed 003; guidance 7.5 (seed 000: 7–9 for real
///   faces, 4–6 for cartoons).
extension Recipe {
    static func defaultTrain(for method: Method) -> Train {
        var train = Train(steps: 1000, resolution: 512, batchSize: 1, gradientAccumulation: 1, learningRate: 1e-4,
                          lrSchedule: .constant, warmupSteps: 0, seed: 0, trainTextEncoder: false,
                          checkpointEvery: 100, centerCrop: true, randomFlip: false, maxGradNorm: 1.0,
                          noiseOffset: 0, minSNRGamma: nil, gradientCheckpointing: false)
        switch method {
        case .lora:
            break
        case .dreambooth:
            train.steps = 400
            train.learningRate = 5e-6
            train.trainTextEncoder = true
            train.checkpointEvery = 200
        case .textualInversion:
            train.steps = 2000
            train.learningRate = 5e-4
            train.gradientAccumulation = 4
            train.checkpointEvery = 250
            train.randomFlip = true
        }
        return train
    }

    static func defaultPriorPreservation(for method: Method) -> PriorPreservation {
        PriorPreservation(enabled: method == .dreambooth, weight: 1.0, classImages: 100)
    }

    static let defaultLoRA = LoRA(rank: 4, alpha: 4, targets: [.attention], dropout: 0)

    static func defaultCaptions(for method: Method) -> Captions {
        // LoRA is often trained on captioned sets (styles, several concepts); the subject methods
        // learn from one prompt with the identifier in it.
        Captions(useFiles: method == .lora, template: "{caption}")
    }

    /// Textual inversion learns the token alone, so its prompts leave the class out.
    static func defaultInstancePrompt(method: Method, token: String?, className: String?) -> String? {
        switch (token, method == .textualInversion ? nil : className) {
        case (.some, .some): "a photo of {token} {class}"
        case (.some, nil): "a photo of {token}"
        default: nil
        }
    }

    static let defaultClassPrompt = "a photo of a {class}"

    /// Two prompts that show the subject as itself and in a new context.
    static func defaultSamplePrompts(for method: Method, subjects: [Subject]) -> [String] {
        if subjects.count == 1, let subject = subjects.first {
            switch (subject.token, method == .textualInversion ? nil : subject.className) {
            case (.some, .some): return ["a photo of {token} {class}", "an oil painting of {token} {class}"]
            case (.some, nil): return ["a photo of {token}", "an oil painting of {token}"]
            default: return [subject.instancePrompt]
            }
        }
        return subjects.map { $0.expand($0.instancePrompt) }
    }

    static func defaultSamples(for method: Method, subjects: [Subject], resolution: Int) -> Samples {
        let every = switch method { case .lora: 250; case .dreambooth: 100; case .textualInversion: 500 }
        return Samples(prompts: defaultSamplePrompts(for: method, subjects: subjects), negativePrompt: "", seeds: [1, 2], steps: 50,
                       sampler: .pndm, karras: false, guidance: 7.5, every: every,
                       width: resolution, height: resolution, compareBase: true)
    }

    static func defaultFormats(for method: Method) -> [OutputFormat] {
        switch method {
        case .lora: [.diffusers, .kohya]
        case .dreambooth: [.diffusers]
        case .textualInversion: [.diffusers, .a1111]
        }
    }
}
