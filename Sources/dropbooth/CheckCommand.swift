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
        let explanation = RecipeExplanation(recipe: recipe, jobFolder: jobFolder, limits: serviceConfig.limits,
                                            modelPath: hasRegistry ? serviceConfig.models[recipe.baseModel] : nil)
        report += "\n" + explanation.text
        report += "\nEffective recipe (defaults filled in):\n\n" + recipe.effectiveYAML()
        print(report, terminator: "")
        if !explanation.problems.isEmpty {
            for problem in explanation.problems { printError(problem) }
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

    private func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
