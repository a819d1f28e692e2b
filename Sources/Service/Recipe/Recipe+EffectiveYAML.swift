import YAML

extension Recipe {
    /// The recipe as it will run, every default filled in, as YAML that `Recipe.parse` reads back
    /// to an equal recipe. The service publishes it with each run ("the recipe as it was run").
    public func effectiveYAML() -> String {
        "# The recipe as it was run: every field, defaults filled in (dropbooth recipe version \(version)).\n"
            + YAMLWriter.render(effectiveNode())
    }

    func effectiveNode() -> YAMLNode {
        var top: [YAMLPair] = [
            pair("version", int(version)),
            pair("method", word(method.rawValue)),
            pair("base_model", text(baseModel)),
            pair("dry_run", bool(dryRun)),
        ]
        let subjectNodes = subjects.map(subjectNode)
        top.append(subjects.count == 1 ? pair("subject", subjectNodes[0]) : pair("subjects", .sequence(subjectNodes)))
        top.append(pair("captions", .mapping([
            pair("use_files", bool(captions.useFiles)),
            pair("template", text(captions.template)),
        ])))
        if method != .textualInversion {
            top.append(pair("prior_preservation", .mapping([
                pair("enabled", bool(priorPreservation.enabled)),
                pair("weight", number(priorPreservation.weight)),
                pair("class_images", int(priorPreservation.classImages)),
            ])))
        }
        var trainPairs = [
            pair("steps", int(train.steps)),
            pair("resolution", int(train.resolution)),
            pair("batch_size", int(train.batchSize)),
            pair("gradient_accumulation", int(train.gradientAccumulation)),
            pair("learning_rate", number(train.learningRate)),
            pair("lr_schedule", word(train.lrSchedule.rawValue)),
            pair("warmup_steps", int(train.warmupSteps)),
            pair("seed", int(train.seed)),
        ]
        if method != .textualInversion { trainPairs.append(pair("train_text_encoder", bool(train.trainTextEncoder))) }
        trainPairs += [
            pair("checkpoint_every", int(train.checkpointEvery)),
            pair("center_crop", bool(train.centerCrop)),
            pair("random_flip", bool(train.randomFlip)),
            pair("buckets", bool(train.buckets)),
            pair("max_grad_norm", train.maxGradNorm.map(number) ?? null()),
            pair("noise_offset", number(train.noiseOffset)),
            pair("min_snr_gamma", train.minSNRGamma.map(number) ?? null()),
            pair("gradient_checkpointing", bool(train.gradientCheckpointing)),
        ]
        if method == .dreambooth { trainPairs.append(pair("full_fine_tune", bool(train.fullFineTune))) }
        top.append(pair("train", .mapping(trainPairs)))
        if let lora {
            top.append(pair("lora", .mapping([
                pair("rank", int(lora.rank)),
                pair("alpha", number(lora.alpha)),
                pair("targets", .sequence(lora.targets.map { word($0.rawValue) })),
                pair("dropout", number(lora.dropout)),
            ])))
        }
        top.append(pair("samples", .mapping([
            pair("prompts", .sequence(samples.prompts.map(text))),
            pair("negative_prompt", text(samples.negativePrompt)),
            pair("seeds", .sequence(samples.seeds.map(int))),
            pair("steps", int(samples.steps)),
            pair("sampler", word(samples.sampler.rawValue)),
            pair("karras", bool(samples.karras)),
            pair("guidance", number(samples.guidance)),
            pair("every", int(samples.every)),
            pair("size", .sequence([int(samples.width), int(samples.height)])),
            pair("compare_base", bool(samples.compareBase)),
            pair("rng", word(samples.rng.rawValue)),
        ])))
        top.append(pair("outputs", .mapping([pair("formats", .sequence(outputs.formats.map { word($0.rawValue) }))])))
        return .mapping(top)
    }

    private func subjectNode(_ s: Subject) -> YAMLNode {
        var pairs: [YAMLPair] = []
        if let token = s.token { pairs.append(pair("token", text(token))) }
        if let className = s.className { pairs.append(pair("class", text(className))) }
        if method == .textualInversion {
            if let initializer = s.initializer { pairs.append(pair("initializer", text(initializer))) }
            pairs.append(pair("vectors", int(s.vectors)))
        }
        pairs.append(pair("instance_prompt", text(s.instancePrompt)))
        // The default class prompt needs a class; without one it is unused and left out.
        if s.className != nil || s.classPrompt != Recipe.defaultClassPrompt {
            pairs.append(pair("class_prompt", text(s.classPrompt)))
        }
        pairs += [
            pair("folder", text(s.folder)),
            pair("class_folder", text(s.classFolder)),
        ]
        return .mapping(pairs)
    }

    private func pair(_ key: String, _ value: YAMLNode) -> YAMLPair { YAMLPair(key: .scalar(key), value: value) }
    private func text(_ s: String) -> YAMLNode { .scalar(s, style: .doubleQuoted) }
    /// Enumeration values are identifiers, safe to write plain.
    private func word(_ s: String) -> YAMLNode { .scalar(s) }
    private func int(_ i: Int) -> YAMLNode { .scalar(String(i)) }
    private func bool(_ b: Bool) -> YAMLNode { .scalar(b ? "true" : "false") }
    private func null() -> YAMLNode { .scalar("null") }
    /// Shortest text that reads back as the same Double (Swift's description is round-trip exact).
    private func number(_ x: Double) -> YAMLNode { .scalar(x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)") }
}
