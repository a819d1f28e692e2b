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

    @Test func bucketsDefaultOffAndAreRefusedWithPriorPreservationOrRandomCrops() throws {
        let plain = try Recipe.parse(head + "method: lora\nsubject: {token: sks}\n", config: recipeTestConfig)
        #expect(!plain.train.buckets)
        #expect(plain.effectiveYAML().contains("buckets: false"))
        let on = try Recipe.parse(head + "method: lora\nsubject: {token: sks}\ntrain: {buckets: true}\n", config: recipeTestConfig)
        #expect(on.train.buckets)
        #expect(try Recipe.parse(on.effectiveYAML(), config: recipeTestConfig) == on)

        // DreamBooth has prior preservation on by default: buckets need it off.
        let prior = recipeProblems(head + "method: dreambooth\nsubject: {token: sks, class: dog}\ntrain:\n  buckets: true\n")
        let p = try #require(problem(prior, field: "train.buckets"))
        #expect((p.line, p.column) == (6, 12))
        #expect(p.message.contains("cannot be combined with prior preservation"))
        #expect(p.suggestion == "set `buckets: false`, or `prior_preservation: {enabled: false}`")
        #expect(recipeProblems(head + "method: dreambooth\nsubject: {token: sks, class: dog}\nprior_preservation: {enabled: false}\ntrain: {buckets: true}\n").isEmpty)

        let randomCrop = recipeProblems(head + "method: lora\nsubject: {token: sks}\ntrain: {buckets: true, center_crop: false}\n")
        #expect(problem(randomCrop, field: "train.buckets")?.message.contains("no square crop for `center_crop: false`") == true)
        #expect(recipeProblems(head + "method: lora\nsubject: {token: sks}\ntrain: {buckets: false, center_crop: false}\n").isEmpty)
        #expect(problem(recipeProblems(head + "method: lora\nsubject: {token: sks}\ntrain: {buckets: maybe}\n"), field: "train.buckets") != nil)
        #expect(problem(recipeProblems(head + "method: lora\nsubject: {token: sks}\ntrain: {enable_bucket: true}\n"), field: "train.enable_bucket")?
            .suggestion == "in a dropbooth recipe this is `train.buckets`")
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
