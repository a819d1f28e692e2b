import YAML

/// The `samples` and `outputs` sections: what is drawn during and after training, and published.
extension RecipeDecoder {
    mutating func decodeSamples(_ top: DocumentReader.Section, method: Recipe.Method, subjects: [Recipe.Subject], resolution: Int) -> Recipe.Samples {
        var p = Recipe.defaultSamples(for: method, subjects: subjects, resolution: resolution)
        guard let node = top["samples"], let s = reader.section(node, path: "samples", keys: RecipeSchema.samples,
                                                                hints: RecipeSchema.hints(for: "samples")) else { return p }
        if let items = reader.list(s, "prompts", maxCount: limits.maxSampleImages) {
            var prompts: [String] = []
            for (i, item) in items.enumerated() {
                guard let prompt = reader.string(item, "samples.prompts[\(i)]") else { continue }
                checkPlaceholders(prompt, item, "samples.prompts[\(i)]", allowed: ["token", "class"], subjects: subjects, perSubject: false)
                prompts.append(prompt)
            }
            p.prompts = prompts
        }
        if let n = s["negative_prompt"] {
            p.negativePrompt = n.isNull ? "" : (reader.string(s, "negative_prompt") ?? "")
        }
        if let items = reader.list(s, "seeds", maxCount: limits.maxSampleImages) {
            p.seeds = items.enumerated().compactMap { reader.int($0.element, "samples.seeds[\($0.offset)]", in: 0...Int.max) }
        }
        if !p.prompts.isEmpty, p.seeds.isEmpty, let n = s["seeds"] {
            reader.report(at: n.mark, "samples.seeds", "no seeds: the grid would have no columns", suggestion: "give at least one seed, e.g. [1, 2]")
        }
        if p.prompts.count * p.seeds.count > limits.maxSampleImages {
            reader.report(at: node.mark, "samples", "\(p.prompts.count) prompts × \(p.seeds.count) seeds is \(p.prompts.count * p.seeds.count) images; the service draws at most \(limits.maxSampleImages) per grid",
                          suggestion: "use fewer prompts or seeds")
        }
        p.steps = reader.int(s, "steps", in: 1...limits.maxSampleSteps,
                             note: "the service allows at most \(limits.maxSampleSteps) (limits.max_sample_steps)") ?? p.steps
        p.sampler = reader.choice(s, "sampler", among: Recipe.Sampler.allCases) ?? p.sampler
        p.karras = reader.bool(s, "karras") ?? p.karras
        if p.karras, p.sampler == .ddim || p.sampler == .pndm, let n = s["karras"] {
            reader.report(at: n.mark, "samples.karras", "Karras sigmas apply to the euler, euler_ancestral and dpmpp_2m samplers, not \(p.sampler.rawValue)",
                          suggestion: "set `sampler: dpmpp_2m` or remove `karras`")
        }
        p.guidance = reader.double(s, "guidance", in: 0...30, note: "7.5 is typical; 1 turns classifier-free guidance off") ?? p.guidance
        p.every = reader.int(s, "every", in: 0...Int.max, note: "0 draws samples only at the end") ?? p.every
        if let n = s["size"] { (p.width, p.height) = decodeSize(n) ?? (p.width, p.height) }
        p.compareBase = reader.bool(s, "compare_base") ?? p.compareBase
        p.rng = reader.choice(s, "rng", among: Recipe.SampleRNG.allCases) ?? p.rng
        return p
    }

    /// `size: 512` or `size: [768, 512]` (width, height), multiples of 64 within the resolution limit.
    mutating func decodeSize(_ node: YAMLNode) -> (Int, Int)? {
        let values: [YAMLNode]
        if let items = node.items {
            guard items.count == 2 else {
                reader.report(at: node.mark, "samples.size", "expected one number or [width, height], found a list of \(items.count)")
                return nil
            }
            values = items
        } else {
            values = [node, node]
        }
        let step = Recipe.sizeStep
        let range = 2 * step...limits.maxResolution
        let sizes = values.map { reader.int($0, "samples.size", in: range, note: "the service allows at most \(limits.maxResolution) (limits.max_resolution)") }
        guard let w = sizes[0], let h = sizes[1] else { return nil }
        for (value, item) in zip([w, h], values) where value % step != 0 {
            reader.report(at: item.mark, "samples.size", "\(value) is not a multiple of \(step) (\(Recipe.sizeStepReason))",
                          suggestion: "use \(max(2 * step, value / step * step)) or \(value / step * step + step)")
            return nil
        }
        return (w, h)
    }

    // MARK: outputs

    mutating func decodeOutputs(_ top: DocumentReader.Section, method: Recipe.Method) -> Recipe.Outputs {
        var o = Recipe.Outputs(formats: Recipe.defaultFormats(for: method))
        guard let node = top["outputs"], let s = reader.section(node, path: "outputs", keys: RecipeSchema.outputs,
                                                                hints: RecipeSchema.hints(for: "outputs")) else { return o }
        guard let items = reader.list(s, "formats", maxCount: 8) else { return o }
        let allowed = Recipe.OutputFormat.allowed(for: method)
        var formats: [Recipe.OutputFormat] = []
        for (i, item) in items.enumerated() {
            let field = "outputs.formats[\(i)]"
            if let text = try? item.string(), let format = Recipe.OutputFormat(rawValue: text), !allowed.contains(format) {
                let hint = method == .lora && format == .a1111 ? "for LoRA, `kohya` is the format A1111 and ComfyUI load"
                                                               : "formats for \(method.rawValue): " + allowed.map(\.rawValue).joined(separator: ", ")
                reader.report(at: item.mark, field, "`\(text)` is not an output of \(method.rawValue)", suggestion: hint)
            } else if let format = reader.choice(item, field, among: allowed), !formats.contains(format) {
                formats.append(format)
            }
        }
        if items.isEmpty {
            reader.report(at: s["formats"]!.mark, "outputs.formats", "no output formats: the run would publish nothing",
                          suggestion: "formats for \(method.rawValue): " + allowed.map(\.rawValue).joined(separator: ", "))
        }
        if !formats.isEmpty { o.formats = formats }
        return o
    }
}
