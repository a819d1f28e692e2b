@testable import Service

/// A registry with two models, as most recipe tests need.
let recipeTestConfig = ServiceConfig(inbox: "/srv/in", outbox: "/srv/out", stateDirectory: "/srv/state",
                                     models: ["sd15": "/models/sd15", "sd21": "/models/sd21.safetensors"])

/// The problems of a recipe text (empty when it is valid).
func recipeProblems(_ text: String, config: ServiceConfig = recipeTestConfig) -> [RecipeProblem] {
    do {
        _ = try Recipe.parse(text, file: "job/recipe.yaml", config: config)
        return []
    } catch {
        return error.problems
    }
}

/// The one problem about `field`, if exactly one was reported for it.
func problem(_ problems: [RecipeProblem], field: String) -> RecipeProblem? {
    let matching = problems.filter { $0.field == field }
    return matching.count == 1 ? matching[0] : nil
}

/// The repository's root folder, found from this file's path.
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)  // Tests/ServiceTests/RecipeTestSupport.swift
    return parts.joined(separator: "/")
}()
