import Training
import TensorEngine

/// The recipe, as the training library takes it.
extension TrainingPhase {
    /// DreamBooth on the CPU trains a LoRA with diffusers' train_dreambooth_lora.py defaults.
    static let dreamBoothLoRA = (rank: 4, alpha: Float(4))

    static func runOptions(_ recipe: Recipe) -> TrainingRunOptions {
        let t = recipe.train
        let method: TrainingRunOptions.Method
        switch recipe.method {
        case .lora:
            let lora = recipe.lora ?? Recipe.defaultLoRA
            var targets: [LoRATarget] = []
            for target in lora.targets {
                switch target {
                case .attention: targets.append(.attention)
                case .feedForward: targets.append(.feedForward)
                case .resnetConv: targets.append(.resnetConvs)
                case .textEncoder: targets += [.textAttention, .textMLP]
                }
            }
            method = .lora(LoRAOptions(rank: lora.rank, alpha: Float(lora.alpha), targets: targets, seed: UInt64(t.seed)))
        case .dreambooth where t.fullFineTune:
            method = .fullFineTune(trainTextEncoder: t.trainTextEncoder)
        case .dreambooth:
            let targets: [LoRATarget] = [.attention] + (t.trainTextEncoder ? [.textAttention] : [])
            method = .lora(LoRAOptions(rank: dreamBoothLoRA.rank, alpha: dreamBoothLoRA.alpha, targets: targets, seed: UInt64(t.seed)))
        case .textualInversion:
            method = .textualInversion(recipe.subjects.map {
                .init(token: $0.token ?? "", vectors: $0.vectors, initializer: $0.initializer ?? "")
            })
        }
        let schedule: LearningRateSchedule = switch t.lrSchedule {
        case .constant: .constant
        case .linear: .linear
        case .cosine: .cosine
        }
        var options = TrainingRunOptions(
            method: method, methodName: recipe.method.rawValue, resolution: t.resolution, steps: t.steps,
            optimizer: OptimizerOptions(learningRate: Float(t.learningRate), schedule: schedule, warmupSteps: t.warmupSteps,
                                        totalSteps: t.steps, maxGradNorm: t.maxGradNorm.map(Float.init),
                                        gradientAccumulationSteps: t.gradientAccumulation))
        options.centerCrop = t.centerCrop
        options.randomFlip = t.randomFlip
        options.buckets = t.buckets
        options.batchSize = t.batchSize
        options.seed = UInt64(t.seed)
        options.gradientCheckpointing = t.gradientCheckpointing
        options.loraDropout = recipe.lora?.dropout ?? 0
        options.loss = LossOptions(minSNRGamma: t.minSNRGamma.map(Float.init), noiseOffset: Float(t.noiseOffset),
                                   priorLossWeight: recipe.priorPreservation.enabled ? Float(recipe.priorPreservation.weight) : nil)
        return options
    }

    /// Whether the run trains LoRA factors (method lora, or DreamBooth without a full fine-tune).
    static func trainsLoRA(_ recipe: Recipe) -> Bool {
        recipe.method == .lora || (recipe.method == .dreambooth && !recipe.train.fullFineTune)
    }
}
