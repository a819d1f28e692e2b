import YAML

/// The `train` and `lora` sections: optimisation, and which layers a LoRA adapts.
extension RecipeDecoder {
    mutating func decodeTrain(_ top: DocumentReader.Section, method: Recipe.Method) -> Recipe.Train {
        var t = Recipe.defaultTrain(for: method)
        guard let node = top["train"], let s = reader.section(node, path: "train", keys: RecipeSchema.train,
                                                              hints: RecipeSchema.hints(for: "train")) else { return t }
        t.steps = reader.int(s, "steps", in: 1...limits.maxSteps,
                             note: "the service allows at most \(limits.maxSteps) steps (limits.max_steps in its config)") ?? t.steps
        if let r = reader.int(s, "resolution", in: Recipe.sizeStep * 2...limits.maxResolution,
                              note: "the service allows at most \(limits.maxResolution) (limits.max_resolution in its config)") {
            let step = Recipe.sizeStep
            if r % step == 0 { t.resolution = r } else {
                reader.report(at: s["resolution"]!.mark, "train.resolution", "\(r) is not a multiple of \(step) (\(Recipe.sizeStepReason))",
                              suggestion: "use \(max(2 * step, r / step * step)) or \(r / step * step + step)")
            }
        }
        t.batchSize = reader.int(s, "batch_size", in: 1...limits.maxBatchSize,
                                 note: "for a larger effective batch raise `gradient_accumulation` instead") ?? t.batchSize
        t.gradientAccumulation = reader.int(s, "gradient_accumulation", in: 1...128) ?? t.gradientAccumulation
        t.learningRate = reader.double(s, "learning_rate", in: 0...1, aboveLower: true,
                                       note: "typical: 5e-6 for DreamBooth, 1e-4 for LoRA, 5e-4 for textual inversion") ?? t.learningRate
        t.lrSchedule = reader.choice(s, "lr_schedule", among: Recipe.LRSchedule.allCases) ?? t.lrSchedule
        t.warmupSteps = reader.int(s, "warmup_steps", in: 0...limits.maxSteps) ?? t.warmupSteps
        if t.warmupSteps > t.steps, let n = s["warmup_steps"] {
            reader.report(at: n.mark, "train.warmup_steps", "warmup of \(t.warmupSteps) steps is longer than the \(t.steps) training steps",
                          suggestion: "use at most \(t.steps)")
        }
        t.seed = reader.int(s, "seed", in: 0...Int.max) ?? t.seed
        if let n = s["train_text_encoder"], let value = reader.bool(s, "train_text_encoder") {
            if method == .textualInversion, value {
                reader.report(at: n.mark, "train.train_text_encoder", "textual inversion trains only the new token's embedding",
                              suggestion: "remove it, or use method dreambooth or lora")
            } else {
                t.trainTextEncoder = value
            }
        }
        t.checkpointEvery = reader.int(s, "checkpoint_every", in: 0...Int.max, note: "0 saves only at the end") ?? t.checkpointEvery
        t.centerCrop = reader.bool(s, "center_crop") ?? t.centerCrop
        t.randomFlip = reader.bool(s, "random_flip") ?? t.randomFlip
        t.buckets = reader.bool(s, "buckets") ?? t.buckets
        if let n = s["max_grad_norm"] {
            t.maxGradNorm = n.isNull ? nil : (reader.double(s, "max_grad_norm", in: 0...1e6, aboveLower: true, note: "null turns clipping off") ?? t.maxGradNorm)
        }
        t.noiseOffset = reader.double(s, "noise_offset", in: 0...1, note: "typical: 0.05–0.1") ?? t.noiseOffset
        if let n = s["min_snr_gamma"] {
            t.minSNRGamma = n.isNull ? nil : reader.double(s, "min_snr_gamma", in: 0...100, aboveLower: true, note: "5 is the usual value; null turns it off")
        }
        t.gradientCheckpointing = reader.bool(s, "gradient_checkpointing") ?? t.gradientCheckpointing
        if let n = s["full_fine_tune"], let value = reader.bool(s, "full_fine_tune") {
            if method != .dreambooth, value {
                reader.report(at: n.mark, "train.full_fine_tune", "a full fine-tune is a DreamBooth option",
                              suggestion: "remove it, or use `method: dreambooth`")
            } else {
                t.fullFineTune = value
            }
        }
        return t
    }

    /// `train.buckets: true` with what it cannot go with, reported at `train.buckets`.
    mutating func checkBuckets(_ top: DocumentReader.Section, train: Recipe.Train, prior: Recipe.PriorPreservation) {
        guard train.buckets, let node = top["train"]?["buckets"] else { return }
        // A prior-preservation batch is instance images followed by as many class images, all
        // one tensor: the class images would have to come from the instance images' bucket,
        // and a subject's class images (other photos, other shapes) rarely fill every bucket.
        if prior.enabled {
            reader.report(at: node.mark, "train.buckets", "aspect-ratio buckets cannot be combined with prior preservation (a batch's class images would need its instance images' size)",
                          suggestion: "set `buckets: false`, or `prior_preservation: {enabled: false}`")
        }
        // center_crop: false places the square crop at a random spot of a non-square photo.
        // With buckets there is no square: the photo keeps its shape and loses only a thin
        // strip to fit its bucket exactly, so a random placement would choose nothing.
        if !train.centerCrop {
            reader.report(at: node.mark, "train.buckets", "aspect-ratio buckets keep the whole photo, so there is no square crop for `center_crop: false` to place at random",
                          suggestion: "remove `center_crop: false`, or set `buckets: false`")
        }
    }

    // MARK: lora

    mutating func decodeLoRA(_ top: DocumentReader.Section, method: Recipe.Method, train: Recipe.Train) -> Recipe.LoRA? {
        guard method == .lora else {
            if let node = top["lora"] {
                reader.report(at: node.mark, "lora", "`lora` settings apply to method lora only", suggestion: "remove this section or set `method: lora`")
            }
            return nil
        }
        var l = Recipe.defaultLoRA
        var explicitTargets = false
        if let node = top["lora"], let s = reader.section(node, path: "lora", keys: RecipeSchema.lora, hints: RecipeSchema.hints(for: "lora")) {
            if let rank = reader.int(s, "rank", in: 1...256, note: "4–32 is typical; the file grows with the rank") {
                l.rank = rank
                l.alpha = Double(rank)  // alpha defaults to the rank: a scale of 1
            }
            l.alpha = reader.double(s, "alpha", in: 0...1024, aboveLower: true) ?? l.alpha
            if let items = reader.list(s, "targets", maxCount: 8) {
                var targets: [Recipe.LoRATarget] = []
                for (i, item) in items.enumerated() {
                    if let target = reader.choice(item, "lora.targets[\(i)]", among: Recipe.LoRATarget.allCases), !targets.contains(target) {
                        targets.append(target)
                    }
                }
                if items.isEmpty {
                    reader.report(at: s["targets"]!.mark, "lora.targets", "no layers to adapt",
                                  suggestion: "list at least one of " + Recipe.LoRATarget.allCases.map(\.rawValue).joined(separator: ", "))
                }
                if !targets.isEmpty { l.targets = targets; explicitTargets = true }
            }
            l.dropout = reader.double(s, "dropout", in: 0...0.9) ?? l.dropout
        }
        // train.train_text_encoder and the text_encoder target say the same thing for LoRA.
        let trainNode = top["train"]?["train_text_encoder"]
        let explicitTextEncoder = trainNode.flatMap { try? $0.bool() }
        if explicitTextEncoder == false, explicitTargets, l.targets.contains(.textEncoder) {
            reader.report(at: trainNode!.mark, "train.train_text_encoder", "false, but lora.targets lists text_encoder",
                          suggestion: "remove one of the two")
        } else if train.trainTextEncoder, !l.targets.contains(.textEncoder) {
            l.targets.append(.textEncoder)
        }
        return l
    }
}
