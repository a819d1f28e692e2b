import Testing
@testable import Service

/// The recipe fields training added: train.full_fine_tune (DreamBooth) and samples.rng.
@Suite struct TrainingRecipeFieldsTests {
    let head = "version: 1\nbase_model: sd15\n"

    @Test func fullFineTuneIsADreamBoothOptionAndDecidesItsFormats() throws {
        let full = try Recipe.parse(head + "method: dreambooth\nsubject: {token: sks, class: dog}\ntrain: {full_fine_tune: true}\noutputs: {formats: [diffusers, single_file]}\n",
                                    config: recipeTestConfig)
        #expect(full.train.fullFineTune)
        #expect(RecipeExplanation(recipe: full, jobFolder: "/nonexistent", limits: .init(), modelPath: nil).summary.first?
            .hasPrefix("DreamBooth (full fine-tune, text encoder too)") == true)
        #expect(full.effectiveYAML().contains("full_fine_tune: true"))
        #expect(try Recipe.parse(full.effectiveYAML(), config: recipeTestConfig) == full)

        let lora = recipeProblems(head + "method: lora\ntrain: {full_fine_tune: true}\n")
        #expect(problem(lora, field: "train.full_fine_tune")?.message == "a full fine-tune is a DreamBooth option")

        let kohya = recipeProblems(head + "method: dreambooth\nsubject: {token: sks, class: dog}\ntrain: {full_fine_tune: true}\noutputs: {formats: [kohya]}\n")
        #expect(problem(kohya, field: "outputs.formats")?.message.contains("`kohya` is a LoRA format") == true)
        let loraDreamBooth = try Recipe.parse(head + "method: dreambooth\nsubject: {token: sks, class: dog}\noutputs: {formats: [diffusers, kohya]}\n",
                                              config: recipeTestConfig)
        #expect(!loraDreamBooth.train.fullFineTune && loraDreamBooth.outputs.formats == [.diffusers, .kohya])
    }

    @Test func samplesRNGDefaultsToTorch() throws {
        let plain = try Recipe.parse(head + "method: lora\nsubject: {token: sks}\n", config: recipeTestConfig)
        #expect(plain.samples.rng == .torch)
        let native = try Recipe.parse(head + "method: lora\nsubject: {token: sks}\nsamples: {rng: native}\n", config: recipeTestConfig)
        #expect(native.samples.rng == .native)
        #expect(native.effectiveYAML().contains("rng: native"))
        #expect(problem(recipeProblems(head + "method: lora\nsubject: {token: sks}\nsamples: {rng: cuda}\n"), field: "samples.rng") != nil)
    }
}
