import ArgumentParser
import Foundation
import Service

/// `dropbooth check`: validate a recipe (or a job folder) and explain what would run, without
/// training. Problems go to standard error as `file:line:column: field: message (suggestion)`,
/// all of them, and the exit code is 1; a valid recipe prints the effective values (every
/// default filled in) and the images each subject would use.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a recipe or job folder and explain what would run (no training).",
        discussion: """
            Without --config, the service's own config (/etc/dropbooth/config.yaml) is used when it \
            exists, so a recipe is checked exactly as the service will check it. When there is none, \
            the built-in limits apply and base_model is only checked to be a registry name, since \
            there is no registry to look it up in (a note says so).
            """
    )

    @Argument(help: "A recipe file, or a job folder holding recipe.yaml.")
    var path: String

    @Option(name: .long, help: "The service config file whose model registry and limits apply.")
    var config: String?

    func run() throws {
        let (serviceConfig, hasRegistry) = try loadConfig()
        let (recipePath, jobFolder) = try locateRecipe()

        let recipe: Recipe
        do {
            recipe = try Recipe.load(path: recipePath, config: serviceConfig, checkBaseModel: hasRegistry)
        } catch {
            printError(error.description)
            printError("\(recipePath): \(error.problems.count) problem\(error.problems.count == 1 ? "" : "s")")
            throw ExitCode(1)
        }

        var report = "\(recipePath): valid, recipe version \(recipe.version)\n"
        if !hasRegistry {
            report += "note: no service config (--config, or \(ServiceConfig.defaultPath)): base_model was not looked up and the built-in limits apply\n"
        }
        report += "\n" + summary(recipe, config: serviceConfig, hasRegistry: hasRegistry)
        let (imageReport, imageProblems) = imagesReport(recipe, jobFolder: jobFolder, limits: serviceConfig.limits)
        report += imageReport
        report += "\nEffective recipe (defaults filled in):\n\n" + recipe.effectiveYAML()
        print(report, terminator: "")
        if !imageProblems.isEmpty {
            for problem in imageProblems { printError(problem) }
            throw ExitCode(1)
        }
    }

    // MARK: inputs

    private func loadConfig() throws -> (ServiceConfig, hasRegistry: Bool) {
        let path: String
        if let config { path = config }
        else if FileManager.default.fileExists(atPath: ServiceConfig.defaultPath) { path = ServiceConfig.defaultPath }
        else { return (ServiceConfig(inbox: "", outbox: "", stateDirectory: ""), false) }
        do {
            return (try ServiceConfig.load(path: path), true)
        } catch {
            printError(error.description)
            printError("\(path): the service config has problems; fix them first")
            throw ExitCode(2)
        }
    }

    /// A job folder's recipe.yaml (or recipe.yml), or the file itself; the job folder is the
    /// recipe's folder either way.
    private func locateRecipe() throws -> (recipe: String, jobFolder: String) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            printError("\(path): no such file or folder")
            throw ExitCode(2)
        }
        guard isFolder.boolValue else {
            return (path, (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
        }
        for name in [Recipe.fileName, "recipe.yml"] {
            let candidate = (path as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate) { return (candidate, path) }
        }
        let yamlFiles = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        printError("\(path): no \(Recipe.fileName) in this job folder"
                   + (yamlFiles.isEmpty ? "" : " (found \(yamlFiles.joined(separator: ", ")); rename the recipe to \(Recipe.fileName))"))
        throw ExitCode(1)
    }

    // MARK: explanation

    private func summary(_ r: Recipe, config: ServiceConfig, hasRegistry: Bool) -> String {
        var lines: [String] = []
        let model = hasRegistry ? "\(r.baseModel) (\(config.models[r.baseModel] ?? "?"))" : r.baseModel
        let method = switch r.method {
        case .lora: "LoRA, rank \(r.lora?.rank ?? 0) on \(r.lora?.targets.map(\.rawValue).joined(separator: ", ") ?? "")"
        case .dreambooth: "DreamBooth (full fine-tune\(r.train.trainTextEncoder ? ", text encoder too" : ""))"
        case .textualInversion: "textual inversion (\(r.subjects.first?.vectors ?? 1) vector\(r.subjects.first?.vectors == 1 ? "" : "s"))"
        }
        lines.append("\(r.dryRun ? "Dry run (preflight only) of " : "")\(method) on base model \(model)")
        for s in r.subjects {
            var who = s.token.map { "`\($0)`" } ?? "(no token)"
            if let c = s.className { who += " \(c)" }
            if let i = s.initializer { who += ", starting from `\(i)`" }
            lines.append("Subject \(who): captions \"\(s.instancePrompt)\"\(r.captions.useFiles ? " unless <image>.txt exists" : "")")
        }
        let t = r.train
        let batch = t.batchSize * t.gradientAccumulation
        lines.append("Training: \(t.steps) steps at \(t.resolution) px, effective batch \(batch) (\(t.batchSize) × \(t.gradientAccumulation)), "
                     + "learning rate \(t.learningRate) \(t.lrSchedule.rawValue)\(t.warmupSteps > 0 ? " after \(t.warmupSteps) warmup steps" : ""), seed \(t.seed)")
        lines.append("Checkpoints: " + (t.checkpointEvery > 0 ? "every \(t.checkpointEvery) steps" : "only at the end"))
        if r.priorPreservation.enabled {
            lines.append("Prior preservation: weight \(r.priorPreservation.weight), \(r.priorPreservation.classImages) class images per subject")
        }
        let s = r.samples
        lines.append("Samples: \(s.prompts.count) prompt\(s.prompts.count == 1 ? "" : "s") × \(s.seeds.count) seed\(s.seeds.count == 1 ? "" : "s"), "
                     + "\(s.sampler.rawValue)\(s.karras ? " (Karras)" : "") \(s.steps) steps, guidance \(s.guidance), \(s.width)×\(s.height), "
                     + (s.every > 0 ? "every \(s.every) steps and at the end" : "at the end"))
        lines.append("Outputs: " + r.outputs.formats.map(\.rawValue).joined(separator: ", "))
        return lines.joined(separator: "\n") + "\n"
    }

    /// Counts the photos each subject would use (and class images, captions). The preflight does
    /// the real work (decoding, rejecting bad files); this only looks at names.
    private func imagesReport(_ r: Recipe, jobFolder: String, limits: ServiceConfig.Limits) -> (String, [String]) {
        var lines: [String] = []
        var problems: [String] = []
        for (i, s) in r.subjects.enumerated() {
            let folder = s.folder == "." ? jobFolder : (jobFolder as NSString).appendingPathComponent(s.folder)
            let name = r.subjects.count == 1 ? "subject" : "subjects[\(i)]"
            guard let files = Self.listFiles(folder) else {
                problems.append("\(folder): \(name).folder: the folder does not exist (put the photos there)")
                continue
            }
            let images = files.filter(Self.isImageName)
            let captions = images.filter { files.contains(($0 as NSString).deletingPathExtension + ".txt") }.count
            lines.append("Images for \(name) in \(folder): \(images.count)"
                         + (r.captions.useFiles ? ", \(captions) with a caption file" : ""))
            if images.count < limits.minImages {
                problems.append("\(folder): \(name).folder: \(images.count) images (jpg, png); the service needs at least \(limits.minImages)")
            } else if images.count > limits.maxImages {
                problems.append("\(folder): \(name).folder: \(images.count) images; the service allows at most \(limits.maxImages)")
            }
            if r.priorPreservation.enabled {
                let classFolder = (jobFolder as NSString).appendingPathComponent(s.classFolder)
                let have = min(Self.listFiles(classFolder)?.filter(Self.isImageName).count ?? 0, r.priorPreservation.classImages)
                let missing = r.priorPreservation.classImages - have
                lines.append("Class images for \(name): \(have) in \(classFolder)"
                             + (missing > 0 ? ", \(missing) to generate with \"\(s.expand(s.classPrompt))\"" : ""))
            }
        }
        return (lines.joined(separator: "\n") + "\n", problems)
    }

    /// Visible regular files of a folder (no symlinks: the service does not follow them), nil if
    /// it is not a folder.
    private static func listFiles(_ folder: String) -> [String]? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        return names.filter { name in
            guard !name.hasPrefix(".") else { return false }
            let type = (try? FileManager.default.attributesOfItem(atPath: (folder as NSString).appendingPathComponent(name)))?[.type] as? FileAttributeType
            return type == .typeRegular
        }.sorted()
    }

    private static func isImageName(_ name: String) -> Bool {
        ["jpg", "jpeg", "png"].contains((name as NSString).pathExtension.lowercased())
    }

    private func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
