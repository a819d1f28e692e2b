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
        let lora = decodeLoRA(top, method: method, train: train)
        var effectiveTrain = train
        if let lora { effectiveTrain.trainTextEncoder = lora.targets.contains(.textEncoder) }
        let samples = decodeSamples(top, method: method, subjects: subjects, resolution: train.resolution)
        let outputs = decodeOutputs(top, method: method)

        return Recipe(version: 1, method: method, baseModel: baseModel, dryRun: dryRun, subjects: subjects,
                      captions: captions, priorPreservation: prior, train: effectiveTrain, lora: lora,
                      samples: samples, outputs: outputs)
    }

    /// Whether `field` already has a problem: follow-on checks stay quiet rather than repeat it.
    private func reported(_ field: String) -> Bool {
        reader.problems.contains { $0.field == field }
    }

    // MARK: base model

    private func modelListSuggestion() -> String? {
        guard checkBaseModel else { return nil }
        let names = config.models.keys.sorted()
        return names.isEmpty ? "the service has no models configured (`models:` in its config)"
                             : "the service's models: \(names.joined(separator: ", "))"
    }

    private mutating func decodeBaseModel(_ node: YAMLNode) -> String? {
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

    // MARK: subjects

    private func subjectPath(_ top: DocumentReader.Section, _ index: Int) -> String {
        top.has("subjects") ? "subjects[\(index)]" : "subject"
    }

    private func subjectMark(_ top: DocumentReader.Section, _ index: Int) -> YAMLMark {
        top["subjects"]?.items.flatMap { $0.indices.contains(index) ? $0[index].mark : nil } ?? top["subject"]?.mark ?? top.mark
    }

    private mutating func decodeSubjects(_ top: DocumentReader.Section, method: Recipe.Method) -> [Recipe.Subject] {
        var nodes: [(node: YAMLNode?, path: String)] = []
        if top.has("subject"), top.has("subjects") {
            reader.report(at: top["subjects"]!.mark, "subjects", "give either `subject` (one) or `subjects` (a list), not both",
                          suggestion: "move the single subject into the list")
        }
        if let node = top["subjects"] {
            if let items = reader.list(top, "subjects", maxCount: limits.maxSubjects) {
                if items.isEmpty { reader.report(at: node.mark, "subjects", "the list is empty", suggestion: "add a subject, or use `subject:`") }
                nodes = items.enumerated().map { ($0.element, "subjects[\($0.offset)]") }
            }
        } else if let node = top["subject"] {
            nodes = [(node, "subject")]
        } else if method != .lora {
            reader.report(at: top.mark, "subject", "missing: the subject (its token\(method == .dreambooth ? " and class" : " and initializer"))",
                          suggestion: method == .dreambooth ? "add `subject: {token: sks, class: dog}`"
                                                            : "add `subject: {token: \"<my-cat>\", initializer: cat}`")
        }
        if nodes.isEmpty { nodes = [(nil, "subject")] }  // LoRA without a subject: a style or caption-file set

        let several = nodes.count > 1
        var subjects: [Recipe.Subject] = []
        for (node, path) in nodes {
            subjects.append(decodeSubject(node, path: path, method: method, several: several, parent: top.mark))
        }

        if method == .textualInversion, several {
            reader.report(at: top["subjects"]!.mark, "subjects", "textual inversion learns one embedding per job",
                          suggestion: "make one job folder per subject")
        }
        if several {
            var folders: [String: Int] = [:], tokens: [String: Int] = [:]
            for (i, subject) in subjects.enumerated() {
                let mark = subjectMark(top, i)
                if let j = folders[subject.folder], !reported("subjects[\(i)].folder") {
                    reader.report(at: mark, "subjects[\(i)].folder", "the folder `\(subject.folder)` is also used by subjects[\(j)]",
                                  suggestion: "give each subject its own folder")
                }
                if !reported("subjects[\(i)].folder") { folders[subject.folder] = folders[subject.folder] ?? i }
                if let token = subject.token {
                    if let j = tokens[token] {
                        reader.report(at: mark, "subjects[\(i)].token", "the token `\(token)` is also used by subjects[\(j)]",
                                      suggestion: "each subject needs its own token")
                    }
                    tokens[token] = tokens[token] ?? i
                }
            }
        }
        return subjects
    }

    private mutating func decodeSubject(_ node: YAMLNode?, path: String, method: Recipe.Method, several: Bool, parent: YAMLMark) -> Recipe.Subject {
        let section = node.flatMap { reader.section($0, path: path, keys: RecipeSchema.subject, hints: RecipeSchema.hints(for: "subject")) }
        let mark = node?.mark ?? parent
        func field(_ key: String) -> String { "\(path).\(key)" }

        var token: String?, className: String?, initializer: String?
        var vectors = 1
        var instancePrompt: String?, classPrompt: String?
        var folder = ".", classFolder: String?
        if let s = section {
            token = reader.string(s, "token", maxLength: 64)
            if let t = token, let n = s["token"], !isOneWord(t) {
                reader.report(at: n.mark, field("token"), "a token is one word without spaces or braces", suggestion: "e.g. `sks` or `<my-cat>`")
                token = nil
            }
            className = reader.string(s, "class", maxLength: 100)
            if let n = s["initializer"] {
                if method != .textualInversion {
                    reader.report(at: n.mark, field("initializer"), "`initializer` is used by textual_inversion only", suggestion: "remove it")
                } else if let i = reader.string(s, "initializer", maxLength: 64) {
                    if isOneWord(i) { initializer = i } else {
                        reader.report(at: n.mark, field("initializer"), "the initializer is one existing word", suggestion: "e.g. `cat`, `toy`, `painting`")
                    }
                }
            }
            if let n = s["vectors"] {
                if method != .textualInversion {
                    reader.report(at: n.mark, field("vectors"), "`vectors` is used by textual_inversion only", suggestion: "remove it")
                } else {
                    vectors = reader.int(s, "vectors", in: 1...16) ?? 1
                }
            }
            instancePrompt = reader.string(s, "instance_prompt")
            classPrompt = reader.string(s, "class_prompt")
            if let n = s["folder"], let f = reader.string(s, "folder", maxLength: 255) {
                folder = checkedRelativePath(f, n, field("folder")) ?? folder
            }
            if let n = s["class_folder"], let f = reader.string(s, "class_folder", maxLength: 255) {
                classFolder = checkedRelativePath(f, n, field("class_folder"))
            }
            if several, !s.has("folder") {
                reader.report(at: mark, field("folder"), "missing: with several subjects each needs its own folder of images",
                              suggestion: "add `folder: \(token ?? "subject\(path.filter(\.isNumber))")` and put its photos there")
            } else if several, folder == ".", !reported(field("folder")) {
                reader.report(at: s["folder"]!.mark, field("folder"), "with several subjects each needs its own subfolder, not the job folder",
                              suggestion: "move each subject's photos into a subfolder")
            }
        }

        switch method {
        case .dreambooth:
            if section != nil, token == nil, section?.has("token") == false {
                reader.report(at: mark, field("token"), "missing: DreamBooth binds the subject to a rare token",
                              suggestion: "add `token: sks`, a rare word the model does not know")
            }
            if section != nil, className == nil, section?.has("class") == false {
                reader.report(at: mark, field("class"), "missing: DreamBooth needs the subject's class noun",
                              suggestion: "add e.g. `class: person`, `class: dog` or `class: toy`")
            }
        case .textualInversion:
            if section != nil, token == nil, section?.has("token") == false {
                reader.report(at: mark, field("token"), "missing: the new word to learn", suggestion: "add `token: \"<my-cat>\"`")
            }
            if section != nil, initializer == nil, section?.has("initializer") == false {
                reader.report(at: mark, field("initializer"), "missing: the existing word the new embedding starts from",
                              suggestion: "add `initializer: cat`, an existing word close to the subject")
            }
        case .lora:
            break
        }

        let prompt = instancePrompt ?? Recipe.defaultInstancePrompt(method: method, token: token, className: className)
        // A missing subject or a bad token was reported already; a missing prompt would only repeat it.
        if prompt == nil, node != nil || method == .lora, section?.has("token") != true {
            reader.report(at: mark, field("instance_prompt"), "missing: with no token, give the caption for the images",
                          suggestion: "add `token: sks` or `instance_prompt: \"a watercolor landscape\"`")
        }
        let subject = Recipe.Subject(token: token, className: className, initializer: initializer, vectors: vectors,
                                     instancePrompt: prompt ?? "", classPrompt: classPrompt ?? Recipe.defaultClassPrompt,
                                     folder: folder, classFolder: classFolder ?? (folder == "." ? "class" : folder + "/class"))
        if let s = section {
            if let n = s["instance_prompt"], let p = instancePrompt {
                checkPlaceholders(p, n, field("instance_prompt"), allowed: ["token", "class"], subjects: [subject])
                if method == .textualInversion, let t = token, !p.contains("{token}"), !p.contains(t) {
                    reader.report(at: n.mark, field("instance_prompt"), "the prompt must contain the token being learned",
                                  suggestion: "e.g. \"a photo of {token}\"")
                }
            }
            if let n = s["class_prompt"], let p = classPrompt {
                checkPlaceholders(p, n, field("class_prompt"), allowed: ["class"], subjects: [subject])
            }
        }
        return subject
    }

    private func isOneWord(_ s: String) -> Bool {
        !s.isEmpty && !s.contains { $0.isWhitespace || $0 == "{" || $0 == "}" || $0 == "," }
    }

    /// A folder inside the job folder: relative, no `..`, no hidden components. Returns it
    /// normalised (`./a/` → `a`, `./` → `.`).
    private mutating func checkedRelativePath(_ path: String, _ node: YAMLNode, _ field: String) -> String? {
        if path.hasPrefix("/") || path.hasPrefix("~") {
            reader.report(at: node.mark, field, "`\(path)` is outside the job folder", suggestion: "give a folder relative to the job folder")
            return nil
        }
        let parts = path.split(separator: "/").filter { $0 != "." }
        if parts.contains("..") {
            reader.report(at: node.mark, field, "`\(path)` leaves the job folder", suggestion: "give a folder inside the job folder")
            return nil
        }
        if parts.contains(where: { $0.hasPrefix(".") }) {
            reader.report(at: node.mark, field, "`\(path)` names a hidden folder, which the service ignores", suggestion: "rename it without the leading dot")
            return nil
        }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// `{name}` placeholders in a template must be known ones and refer to something that exists.
    /// A template applied per subject (`perSubject`, e.g. the caption template) fills in each
    /// subject's own token; one for the whole run (sample prompts) needs exactly one subject.
    private mutating func checkPlaceholders(_ template: String, _ node: YAMLNode, _ field: String, allowed: [String],
                                            subjects: [Recipe.Subject], perSubject: Bool = true) {
        for name in Self.placeholders(in: template) {
            guard allowed.contains(name) else {
                reader.report(at: node.mark, field, "unknown placeholder {\(name)}",
                              suggestion: "placeholders here: " + allowed.map { "{\($0)}" }.joined(separator: ", "))
                continue
            }
            if !perSubject, subjects.count != 1, name == "token" || name == "class" {
                reader.report(at: node.mark, field, "{\(name)} is ambiguous with several subjects", suggestion: "write the token or class itself")
            } else if name == "token", subjects.contains(where: { $0.token == nil }) {
                reader.report(at: node.mark, field, "{token} is used but the subject has no token", suggestion: "add `token:` to the subject")
            } else if name == "class", subjects.contains(where: { $0.className == nil }) {
                reader.report(at: node.mark, field, "{class} is used but the subject has no class", suggestion: "add `class:` to the subject")
            }
        }
    }

    static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    // MARK: train

    private mutating func decodeTrain(_ top: DocumentReader.Section, method: Recipe.Method) -> Recipe.Train {
        var t = Recipe.defaultTrain(for: method)
        guard let node = top["train"], let s = reader.section(node, path: "train", keys: RecipeSchema.train,
                                                              hints: RecipeSchema.hints(for: "train")) else { return t }
        t.steps = reader.int(s, "steps", in: 1...limits.maxSteps,
                             note: "the service allows at most \(limits.maxSteps) steps (limits.max_steps in its config)") ?? t.steps
        if let r = reader.int(s, "resolution", in: 64...limits.maxResolution,
                              note: "the service allows at most \(limits.maxResolution) (limits.max_resolution in its config)") {
            if r % 64 == 0 { t.resolution = r } else {
                reader.report(at: s["resolution"]!.mark, "train.resolution", "\(r) is not a multiple of 64 (the model works on 8×-downsampled latents, halved three times)",
                              suggestion: "use \(max(64, r / 64 * 64)) or \(r / 64 * 64 + 64)")
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
        if let n = s["max_grad_norm"] {
            t.maxGradNorm = n.isNull ? nil : (reader.double(s, "max_grad_norm", in: 0...1e6, aboveLower: true, note: "null turns clipping off") ?? t.maxGradNorm)
        }
        t.noiseOffset = reader.double(s, "noise_offset", in: 0...1, note: "typical: 0.05–0.1") ?? t.noiseOffset
        if let n = s["min_snr_gamma"] {
            t.minSNRGamma = n.isNull ? nil : reader.double(s, "min_snr_gamma", in: 0...100, aboveLower: true, note: "5 is the usual value; null turns it off")
        }
        t.gradientCheckpointing = reader.bool(s, "gradient_checkpointing") ?? t.gradientCheckpointing
        return t
    }

    // MARK: lora

    private mutating func decodeLoRA(_ top: DocumentReader.Section, method: Recipe.Method, train: Recipe.Train) -> Recipe.LoRA? {
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

    // MARK: samples

    private mutating func decodeSamples(_ top: DocumentReader.Section, method: Recipe.Method, subjects: [Recipe.Subject], resolution: Int) -> Recipe.Samples {
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
        return p
    }

    /// `size: 512` or `size: [768, 512]` (width, height), multiples of 64 within the resolution limit.
    private mutating func decodeSize(_ node: YAMLNode) -> (Int, Int)? {
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
        let range = 64...limits.maxResolution
        let sizes = values.map { reader.int($0, "samples.size", in: range, note: "the service allows at most \(limits.maxResolution) (limits.max_resolution)") }
        guard let w = sizes[0], let h = sizes[1] else { return nil }
        for (value, item) in zip([w, h], values) where value % 64 != 0 {
            reader.report(at: item.mark, "samples.size", "\(value) is not a multiple of 64", suggestion: "use \(max(64, value / 64 * 64)) or \(value / 64 * 64 + 64)")
            return nil
        }
        return (w, h)
    }

    // MARK: outputs

    private mutating func decodeOutputs(_ top: DocumentReader.Section, method: Recipe.Method) -> Recipe.Outputs {
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

