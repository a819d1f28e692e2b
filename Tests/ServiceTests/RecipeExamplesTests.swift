import Testing
@testable import Service

@Suite struct RecipeExamplesTests {
    static let examples = ["lora", "dreambooth", "textual_inversion"]

    @Test(arguments: examples) func exampleValidatesCleanly(name: String) throws {
        let recipe = try Recipe.load(path: "\(repositoryRoot)/recipes/\(name).yaml", config: recipeTestConfig)
        #expect(recipe.method.rawValue == name)
        #expect(recipe.baseModel == "sd15")
    }

    /// The examples say every line shows the method's default: a minimal recipe must give the same.
    @Test(arguments: examples) func exampleShowsTheDefaults(name: String) throws {
        let example = try Recipe.load(path: "\(repositoryRoot)/recipes/\(name).yaml", config: recipeTestConfig)
        let subject = switch name {
        case "textual_inversion": "subject: {token: \"<my-cat>\", initializer: cat, class: cat}"
        default: "subject: {token: sks, class: dog}"
        }
        let minimal = try Recipe.parse("version: 1\nmethod: \(name)\nbase_model: sd15\n\(subject)\n", config: recipeTestConfig)
        #expect(minimal == example)
    }

    @Test(arguments: examples) func effectiveYAMLReadsBackToTheSameRecipe(name: String) throws {
        let recipe = try Recipe.load(path: "\(repositoryRoot)/recipes/\(name).yaml", config: recipeTestConfig)
        let text = recipe.effectiveYAML()
        let back = try Recipe.parse(text, config: recipeTestConfig)
        #expect(back == recipe, "\(text)")
    }

    @Test func configExampleValidates() throws {
        let config = try ServiceConfig.load(path: "\(repositoryRoot)/config/config.example.yaml")
        #expect(config.inbox == "/srv/dropbooth/inbox")
        #expect(config.models["sd15"] == "/srv/models/stable-diffusion-v1-5")
        #expect(config.quietHours == ServiceConfig.QuietHours(startMinute: 22 * 60, endMinute: 7 * 60))
        // The documented limits are the built-in defaults.
        #expect(config.limits == ServiceConfig.Limits())
    }

    @Test func examplesValidateAgainstTheExampleConfig() throws {
        let config = try ServiceConfig.load(path: "\(repositoryRoot)/config/config.example.yaml")
        for name in Self.examples {
            #expect(throws: Never.self) { try Recipe.load(path: "\(repositoryRoot)/recipes/\(name).yaml", config: config) }
        }
    }
}
