import YAML

/// Decodes the recipe tree section by section, filling defaults for the method, then checks the
/// rules that span fields. Problems accumulate in `reader`; `decode` returns nil only when the
/// document is not even a mapping.
struct RecipeDecoder {
    var reader: DocumentReader
    let config: ServiceConfig
    let checkBaseModel: Bool
    var limits: ServiceConfig.Limits { config.limits }

    mutating func decode(_ root: YAMLNode) -> Recipe? {
        guard root.pairs != nil else {
            reader.report(at: root.mark, "", "a recipe is a mapping of `key: value` lines; found \(root.kindDescription)",
                          suggestion: "start from one of the examples in recipes/")
            return nil
        }
        guard let top = reader.section(root, path: "", keys: RecipeSchema.top, hints: RecipeSchema.hints(for: "")) else { return nil }

        reader.require(top, "version", "`version: 1`", suggestion: "add `version: 1` as the first line")
        if let version = reader.int(top, "version", in: 0...Int.max), !Recipe.supportedVersions.contains(version) {
            reader.report(at: top["version"]!.mark, "version", "this dropbooth reads recipe version 1, not \(version)",
                          suggestion: "write `version: 1` and the fields documented in recipes/")
        }

        reader.require(top, "method", "the training method", suggestion: "add `method: lora`, `dreambooth` or `textual_inversion`")
        let parsedMethod: Recipe.Method? = reader.choice(top, "method", among: Recipe.Method.allCases)
        // With an unknown method, keep checking everything else against the LoRA defaults.
        let method = parsedMethod ?? .lora

        reader.require(top, "base_model", "the base model, a name from the service's model registry",
                       suggestion: modelListSuggestion())
        let baseModel = top["base_model"].flatMap { decodeBaseModel($0) } ?? ""
        let dryRun = reader.bool(top, "dry_run") ?? false

        let subjects = decodeSubjects(top, method: method)

        var captions = Recipe.defaultCaptions(for: method)
        if let node = top["captions"], let s = reader.section(node, path: "captions", keys: RecipeSchema.captions,
                                                              hints: RecipeSchema.hints(for: "captions")) {
            captions.useFiles = reader.bool(s, "use_files") ?? captions.useFiles
            if let template = reader.string(s, "template") {
                captions.template = template
                checkPlaceholders(template, s["template"]!, "captions.template", allowed: ["caption", "token", "class"], subjects: subjects)
                if !template.contains("{caption}") {
                    reader.report(at: s["template"]!.mark, "captions.template", "the template does not use the caption file's text",
                                  suggestion: "put {caption} where the file's text goes, e.g. \"{token}, {caption}\"")
                }
            }
        }

        var prior = Recipe.defaultPriorPreservation(for: method)
        if let node = top["prior_preservation"] {
            if method == .textualInversion {
                reader.report(at: node.mark, "prior_preservation", "textual inversion changes no model weights, so it has no prior preservation",
                              suggestion: "remove this section")
            } else if let s = reader.section(node, path: "prior_preservation", keys: RecipeSchema.priorPreservation,
                                             hints: RecipeSchema.hints(for: "prior_preservation")) {
                prior.enabled = reader.bool(s, "enabled") ?? true  // writing the section means wanting it
                prior.weight = reader.double(s, "weight", in: 0...10, aboveLower: true) ?? prior.weight
                prior.classImages = reader.int(s, "class_images", in: 1...limits.maxClassImages,
                                               note: "the service allows at most \(limits.maxClassImages) (limits.max_class_images)") ?? prior.classImages
            }
        }
        if prior.enabled {
            for (i, subject) in subjects.enumerated() where subject.className == nil {
                let field = subjectPath(top, i) + ".class"
                guard !reported(field) else { continue }  // DreamBooth said it already
                reader.report(at: subjectMark(top, i), field,
                              "prior preservation needs the subject's class noun (the class images show it)",
                              suggestion: "add e.g. `class: person`, or set `prior_preservation: {enabled: false}`")
            }
        }

        let train = decodeTrain(top, method: method)
        checkBuckets(top, train: train, prior: prior)
        let lora = decodeLoRA(top, method: method, train: train)
        var effectiveTrain = train
        if let lora { effectiveTrain.trainTextEncoder = lora.targets.contains(.textEncoder) }
        let samples = decodeSamples(top, method: method, subjects: subjects, resolution: train.resolution)
        let outputs = decodeOutputs(top, method: method)
        if method == .dreambooth, let node = top["outputs"] {
            // DreamBooth's outputs follow what it trains: a LoRA (kohya) or a whole model (single_file).
            if train.fullFineTune, outputs.formats.contains(.kohya) {
                reader.report(at: node.mark, "outputs.formats", "`kohya` is a LoRA format, but `train.full_fine_tune: true` trains the whole UNet",
                              suggestion: "use diffusers or single_file, or set `train.full_fine_tune: false`")
            }
            if !train.fullFineTune, outputs.formats.contains(.singleFile) {
                reader.report(at: node.mark, "outputs.formats", "`single_file` is a whole model, but without `train.full_fine_tune: true` DreamBooth trains a LoRA",
                              suggestion: "use diffusers or kohya, or set `train.full_fine_tune: true`")
            }
        }

        return Recipe(version: 1, method: method, baseModel: baseModel, dryRun: dryRun, subjects: subjects,
                      captions: captions, priorPreservation: prior, train: effectiveTrain, lora: lora,
                      samples: samples, outputs: outputs)
    }

    /// Whether `field` already has a problem: follow-on checks stay quiet rather than repeat it.
    func reported(_ field: String) -> Bool {
        reader.problems.contains { $0.field == field }
    }

    // MARK: base model

    func modelListSuggestion() -> String? {
        guard checkBaseModel else { return nil }
        let names = config.models.keys.sorted()
        return names.isEmpty ? "the service has no models configured (`models:` in its config)"
                             : "the service's models: \(names.joined(separator: ", "))"
    }

    mutating func decodeBaseModel(_ node: YAMLNode) -> String? {
        guard let name = reader.string(node, "base_model", maxLength: 200) else { return nil }
        if name.contains("/") || name.contains("\\") || name.hasPrefix(".") || name.hasPrefix("~") {
            reader.report(at: node.mark, "base_model", "`\(name)` looks like a path; a recipe names a model from the service's registry",
                          suggestion: modelListSuggestion())
            return nil
        }
        guard ServiceConfig.isValidModelName(name) else {
            reader.report(at: node.mark, "base_model", "`\(name)` is not a model name (letters, digits, `.`, `_`, `-`)",
                          suggestion: modelListSuggestion())
            return nil
        }
        if checkBaseModel, config.models[name] == nil {
            let near = DidYouMean.closest(to: name, in: config.models.keys)
            reader.report(at: node.mark, "base_model", "unknown base model `\(name)`",
                          suggestion: near.map { "did you mean `\($0)`?" } ?? modelListSuggestion())
            return nil
        }
        return name
    }
}
