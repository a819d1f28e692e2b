import YAML

extension Recipe {
    /// Reads and validates a recipe file. Symlinks are refused (the recipe sits in a job folder
    /// anyone may write); the size limit is `config.limits.maxRecipeBytes`.
    /// With `checkBaseModel: false` the base model is only checked to be a valid name, for
    /// checking recipes without the service's registry at hand.
    public static func load(path: String, config: ServiceConfig, checkBaseModel: Bool = true) throws(RecipeProblems) -> Recipe {
        let limits = YAMLLimits(maxBytes: config.limits.maxRecipeBytes)
        let root: YAMLNode
        do { root = try YAMLFile.load(path: path, limits: limits, followSymlinks: false) }
        catch { throw RecipeProblems(file: path, error) }
        return try decode(root, file: path, config: config, checkBaseModel: checkBaseModel)
    }

    /// Validates recipe text; `file` names it in problems.
    public static func parse(_ text: String, file: String = Recipe.fileName, config: ServiceConfig,
                             checkBaseModel: Bool = true) throws(RecipeProblems) -> Recipe {
        let root: YAMLNode
        do { root = try YAMLParser.parse(text, limits: YAMLLimits(maxBytes: config.limits.maxRecipeBytes)) }
        catch { throw RecipeProblems(file: file, error) }
        return try decode(root, file: file, config: config, checkBaseModel: checkBaseModel)
    }

    static func decode(_ root: YAMLNode, file: String, config: ServiceConfig, checkBaseModel: Bool) throws(RecipeProblems) -> Recipe {
        var decoder = RecipeDecoder(reader: DocumentReader(file: file), config: config, checkBaseModel: checkBaseModel)
        let recipe = decoder.decode(root)
        guard let recipe, decoder.reader.problems.isEmpty else {
            throw RecipeProblems(decoder.reader.problems.sortedByPosition())
        }
        return recipe
    }
}
