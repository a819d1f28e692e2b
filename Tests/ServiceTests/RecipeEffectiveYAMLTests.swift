import Testing
@testable import Service

@Suite struct RecipeEffectiveYAMLTests {
    @Test func awkwardTextAndSeveralSubjectsRoundTrip() throws {
        let recipe = try Recipe.parse("""
        version: 1
        method: lora
        base_model: sd21
        dry_run: true
        subjects:
          - token: sks
            class: "dog: the good kind # really"
            folder: rex
          - token: zwx
            instance_prompt: 'a "quoted" photo of {token}, yes'
            folder: photos/tom
        train: {steps: 10, min_snr_gamma: 5, max_grad_norm: null, learning_rate: 3e-5, lr_schedule: cosine, warmup_steps: 2}
        lora: {rank: 16, targets: [attention, resnet_conv, text_encoder], dropout: 0.1}
        samples: {prompts: ["yes", "null", "8", ""], seeds: [0, 42], size: [768, 512], negative_prompt: "blurry\\nugly"}
        outputs: {formats: [kohya]}
        """, config: recipeTestConfig)
        #expect(recipe.train.trainTextEncoder)
        #expect(recipe.lora?.alpha == 16)
        let text = recipe.effectiveYAML()
        #expect(text.hasPrefix("# The recipe as it was run"))
        let back = try Recipe.parse(text, config: recipeTestConfig)
        #expect(back == recipe, "\(text)")
        #expect(back.samples.prompts == ["yes", "null", "8", ""])
        #expect(back.samples.negativePrompt == "blurry\nugly")
    }

    @Test func effectiveYAMLShowsTheDefaults() throws {
        let recipe = try Recipe.parse("version: 1\nmethod: dreambooth\nbase_model: sd15\nsubject: {token: sks, class: dog}\n",
                                      config: recipeTestConfig)
        let text = recipe.effectiveYAML()
        #expect(text.contains("  learning_rate: 5e-06\n"))
        #expect(text.contains("  class_images: 100\n"))
        #expect(text.contains("  sampler: pndm\n"))
        #expect(text.contains("  seeds: [1, 2]\n"))
        #expect(!text.contains("lora:"))
    }

    @Test func trainTextEncoderAndTheLoRATargetAgree() throws {
        let implied = try Recipe.parse(RecipeValidationTests.header + "train: {train_text_encoder: true}\n", config: recipeTestConfig)
        #expect(implied.lora?.targets == [.attention, .textEncoder])
        let fromTargets = try Recipe.parse(RecipeValidationTests.header + "lora: {targets: [text_encoder]}\n", config: recipeTestConfig)
        #expect(fromTargets.train.trainTextEncoder)
        let conflict = recipeProblems(RecipeValidationTests.header + "train: {train_text_encoder: false}\nlora: {targets: [text_encoder]}\n")
        #expect(problem(conflict, field: "train.train_text_encoder")?.suggestion == "remove one of the two")
    }
}
