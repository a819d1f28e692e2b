#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Service

/// Each kind of recipe problem, with the line and column it is reported at.
@Suite struct RecipeValidationTests {
    static let header = "version: 1\nmethod: lora\nbase_model: sd15\nsubject: {token: sks, class: dog}\n"

    @Test func problemsPrintLikeCompilerDiagnostics() {
        let p = RecipeProblem(file: "job/recipe.yaml", line: 3, column: 7, field: "train.steps",
                              message: "expected a whole number", suggestion: "remove the quotes")
        #expect(p.description == "job/recipe.yaml:3:7: train.steps: expected a whole number (remove the quotes)")
        let whole = RecipeProblems([p, RecipeProblem(file: "f", line: 1, column: 1, field: "", message: "m")])
        #expect(whole.description == "job/recipe.yaml:3:7: train.steps: expected a whole number (remove the quotes)\nf:1:1: m")
    }

    @Test func unknownKeyGetsDidYouMean() throws {
        let problems = recipeProblems(Self.header + "trian:\n  steps: 10\n")
        let p = try #require(problem(problems, field: "trian"))
        #expect((p.line, p.column) == (5, 1))
        #expect(p.message == "unknown key `trian`")
        #expect(p.suggestion == "did you mean `train`?")
        #expect(problems.count == 1)
    }

    @Test func unknownNestedKeyGetsDidYouMean() throws {
        let problems = recipeProblems(Self.header + "train:\n  learnig_rate: 1e-4\n  stpes: 10\n")
        let rate = try #require(problem(problems, field: "train.learnig_rate"))
        #expect((rate.line, rate.column) == (6, 3))
        #expect(rate.suggestion == "did you mean `learning_rate`?")
        #expect(problem(problems, field: "train.stpes")?.suggestion == "did you mean `steps`?")
    }

    @Test func unknownKeyWithNothingCloseListsTheAllowedKeys() throws {
        let problems = recipeProblems(Self.header + "outputs:\n  colour: red\n")
        let p = try #require(problem(problems, field: "outputs.colour"))
        #expect(p.suggestion == "keys allowed in `outputs`: formats")
    }

    @Test func misplacedAndForeignKeysSayWhereTheyBelong() throws {
        let problems = recipeProblems(Self.header + "steps: 100\nmax_train_steps: 5\nmixed_precision: fp16\n")
        #expect(problem(problems, field: "steps")?.suggestion == "`steps` belongs under `train:`")
        #expect(problem(problems, field: "max_train_steps")?.suggestion == "in a dropbooth recipe this is `train.steps`")
        let fp16 = try #require(problem(problems, field: "mixed_precision"))
        #expect(fp16.suggestion?.contains("float32 on the CPU") == true)
        #expect((fp16.line, fp16.column) == (7, 1))
    }

    @Test func wrongTypes() throws {
        let problems = recipeProblems(Self.header + """
        train:
          steps: "400"
          learning_rate: fast
          random_flip: yes
          resolution: [512]
        """)
        let steps = try #require(problem(problems, field: "train.steps"))
        #expect((steps.line, steps.column) == (6, 10))
        #expect(steps.message == "expected a whole number, found the text \"400\" (quoted)")
        #expect(steps.suggestion == "remove the quotes")
        #expect(problem(problems, field: "train.learning_rate")?.message == "expected a number, found the text \"fast\"")
        let flip = try #require(problem(problems, field: "train.random_flip"))
        #expect(flip.suggestion?.contains("write true or false") == true)
        #expect(problem(problems, field: "train.resolution")?.message == "expected a whole number, found a list")
        #expect(problems.count == 4)
    }

    @Test func sectionOfTheWrongShape() throws {
        let problems = recipeProblems(Self.header + "train: 400\n")
        let p = try #require(problem(problems, field: "train"))
        #expect((p.line, p.column) == (5, 8))
        #expect(p.message.hasPrefix("expected a mapping"))
    }

    @Test func outOfRangeValuesNameTheServiceLimit() throws {
        var config = recipeTestConfig
        config.limits.maxSteps = 5000
        let problems = recipeProblems(Self.header + "train:\n  steps: 6000\n  learning_rate: 0\n  batch_size: 64\n", config: config)
        let steps = try #require(problem(problems, field: "train.steps"))
        #expect(steps.message == "expected a whole number from 1 to 5000, found 6000")
        #expect(steps.suggestion == "the service allows at most 5000 steps (limits.max_steps in its config)")
        #expect((steps.line, steps.column) == (6, 10))
        #expect(problem(problems, field: "train.learning_rate")?.message == "expected a number above 0 to 1, found 0")
        #expect(problem(problems, field: "train.batch_size")?.message == "expected a whole number from 1 to 8, found 64")
    }

    @Test func resolutionMustBeAMultipleOf16WithinTheLimit() throws {
        let problems = recipeProblems(Self.header + "train:\n  resolution: 500\nsamples:\n  size: [512, 2048]\n")
        let res = try #require(problem(problems, field: "train.resolution"))
        #expect(res.message.hasPrefix("500 is not a multiple of 16"))
        #expect(res.suggestion == "use 496 or 512")
        let size = try #require(problem(problems, field: "samples.size"))
        #expect((size.line, size.column) == (8, 15))
        #expect(size.message == "expected a whole number from 32 to 1024, found 2048")
    }

    @Test func enumValuesListTheAllowedOnes() throws {
        let problems = recipeProblems(Self.header + "samples:\n  sampler: eulr\ntrain:\n  lr_schedule: exponential\n")
        let sampler = try #require(problem(problems, field: "samples.sampler"))
        #expect(sampler.message == "expected one of ddim, pndm, euler, euler_ancestral, dpmpp_2m; found the text \"eulr\"")
        #expect(sampler.suggestion == "did you mean `euler`?")
        #expect((sampler.line, sampler.column) == (6, 12))
        #expect(problem(problems, field: "train.lr_schedule")?.suggestion == nil)
    }

    @Test func unknownMethod() throws {
        let problems = recipeProblems("version: 1\nmethod: dreambooht\nbase_model: sd15\n")
        let p = try #require(problem(problems, field: "method"))
        #expect(p.suggestion == "did you mean `dreambooth`?")
        #expect(p.message.contains("lora, dreambooth, textual_inversion"))
    }

    @Test func unknownBaseModelListsTheRegistry() throws {
        let typo = try #require(problem(recipeProblems("version: 1\nmethod: lora\nbase_model: sd16\nsubject: {token: sks}\n"), field: "base_model"))
        #expect(typo.message == "unknown base model `sd16`")
        #expect(typo.suggestion == "did you mean `sd15`?" || typo.suggestion == "did you mean `sd21`?")
        let far = try #require(problem(recipeProblems("version: 1\nmethod: lora\nbase_model: dreamshaper\nsubject: {token: sks}\n"), field: "base_model"))
        #expect(far.suggestion == "the service's models: sd15, sd21")
        #expect((far.line, far.column) == (3, 13))
    }

    @Test func baseModelIsNeverAPath() throws {
        let p = try #require(problem(recipeProblems("version: 1\nmethod: lora\nbase_model: /etc/passwd\nsubject: {token: sks}\n"), field: "base_model"))
        #expect(p.message.contains("looks like a path"))
        let empty = ServiceConfig(inbox: "/i", outbox: "/o", stateDirectory: "/s")
        let none = try #require(problem(recipeProblems("version: 1\nmethod: lora\nbase_model: sd15\nsubject: {token: sks}\n", config: empty), field: "base_model"))
        #expect(none.suggestion == "the service has no models configured (`models:` in its config)")
    }

    @Test func baseModelIsNotLookedUpWhenAskedNotTo() throws {
        let empty = ServiceConfig(inbox: "/i", outbox: "/o", stateDirectory: "/s")
        let recipe = try Recipe.parse("version: 1\nmethod: lora\nbase_model: anything\nsubject: {token: sks}\n", config: empty, checkBaseModel: false)
        #expect(recipe.baseModel == "anything")
    }

    @Test func missingRequiredFields() throws {
        let problems = recipeProblems("dry_run: true\n")
        #expect(problem(problems, field: "version")?.suggestion == "add `version: 1` as the first line")
        #expect(problem(problems, field: "method") != nil)
        #expect(problem(problems, field: "base_model")?.suggestion == "the service's models: sd15, sd21")
        #expect(problems.allSatisfy { $0.line == 1 && $0.column == 1 })
    }

    @Test func unsupportedVersion() throws {
        let p = try #require(problem(recipeProblems("version: 2\nmethod: lora\nbase_model: sd15\nsubject: {token: sks}\n"), field: "version"))
        #expect(p.message == "this dropbooth reads recipe version 1, not 2")
        #expect((p.line, p.column) == (1, 10))
    }

    @Test func dreamboothNeedsTokenAndClass() throws {
        let problems = recipeProblems("version: 1\nmethod: dreambooth\nbase_model: sd15\nsubject:\n  folder: photos\n")
        let token = try #require(problem(problems, field: "subject.token"))
        #expect((token.line, token.column) == (5, 3))
        #expect(token.suggestion == "add `token: sks`, a rare word the model does not know")
        #expect(problem(problems, field: "subject.class") != nil)
        let none = recipeProblems("version: 1\nmethod: dreambooth\nbase_model: sd15\n")
        #expect(problem(none, field: "subject")?.message == "missing: the subject (its token and class)")
    }

    @Test func textualInversionNeedsInitializerAndOneWordTokens() throws {
        let problems = recipeProblems("""
        version: 1
        method: textual_inversion
        base_model: sd15
        subject:
          token: my cat
          vectors: 40
        train:
          train_text_encoder: true
        prior_preservation:
          enabled: true
        """)
        #expect(problem(problems, field: "subject.token")?.message == "a token is one word without spaces or braces")
        #expect(problem(problems, field: "subject.initializer")?.suggestion == "add `initializer: cat`, an existing word close to the subject")
        #expect(problem(problems, field: "subject.vectors")?.message == "expected a whole number from 1 to 16, found 40")
        #expect(problem(problems, field: "train.train_text_encoder") != nil)
        let prior = try #require(problem(problems, field: "prior_preservation"))
        #expect((prior.line, prior.column) == (10, 3))
    }

    @Test func methodSpecificFieldsElsewhereAreRefused() throws {
        let problems = recipeProblems("""
        version: 1
        method: dreambooth
        base_model: sd15
        subject: {token: sks, class: dog, initializer: dog, vectors: 2}
        lora: {rank: 8}
        """)
        #expect(problem(problems, field: "subject.initializer")?.message == "`initializer` is used by textual_inversion only")
        #expect(problem(problems, field: "subject.vectors") != nil)
        #expect(problem(problems, field: "lora")?.message == "`lora` settings apply to method lora only")
    }

    @Test func priorPreservationNeedsAClass() throws {
        let problems = recipeProblems("version: 1\nmethod: lora\nbase_model: sd15\nsubject: {token: sks}\nprior_preservation: {weight: 0.5}\n")
        let p = try #require(problem(problems, field: "subject.class"))
        #expect(p.message.hasPrefix("prior preservation needs the subject's class noun"))
        #expect((p.line, p.column) == (4, 10))
    }

    @Test func aSubjectOfTheWrongShapeIsOneProblem() throws {
        let problems = recipeProblems("version: 1\nmethod: lora\nbase_model: sd15\nsubject: [sks, dog]\n")
        #expect(problems.count == 1)
        #expect(problem(problems, field: "subject")?.message.hasPrefix("expected a mapping") == true)
    }

    @Test func loraWithoutTokenNeedsAPrompt() throws {
        let problems = recipeProblems("version: 1\nmethod: lora\nbase_model: sd15\n")
        #expect(problem(problems, field: "subject.instance_prompt") != nil)
        let style = try Recipe.parse("version: 1\nmethod: lora\nbase_model: sd15\nsubject: {instance_prompt: a watercolor landscape}\n",
                                     config: recipeTestConfig)
        #expect(style.samples.prompts == ["a watercolor landscape"])
        #expect(style.captions.useFiles)
    }

    @Test func placeholdersMustBeKnownAndFilled() throws {
        let problems = recipeProblems("""
        version: 1
        method: lora
        base_model: sd15
        subject: {token: sks, instance_prompt: "a photo of {tokn}", class_prompt: "a {class}"}
        samples:
          prompts: ["{token} on a beach", "{class} at night"]
        """)
        #expect(problem(problems, field: "subject.instance_prompt")?.message == "unknown placeholder {tokn}")
        #expect(problem(problems, field: "subject.class_prompt")?.message == "{class} is used but the subject has no class")
        let sample = try #require(problem(problems, field: "samples.prompts[1]"))
        #expect((sample.line, sample.column) == (6, 35))
        #expect(problem(problems, field: "samples.prompts[0]") == nil)
    }

    @Test func foldersStayInsideTheJob() throws {
        let problems = recipeProblems("""
        version: 1
        method: lora
        base_model: sd15
        subjects:
          - {token: aaa, folder: ../other-job}
          - {token: bbb, folder: /etc}
          - {token: ccc, folder: .hidden}
          - {token: ddd, folder: ./d/}
        """)
        #expect(problem(problems, field: "subjects[0].folder")?.message == "`../other-job` leaves the job folder")
        #expect(problem(problems, field: "subjects[1].folder")?.message == "`/etc` is outside the job folder")
        #expect(problem(problems, field: "subjects[2].folder")?.message.contains("hidden") == true)
        #expect(problem(problems, field: "subjects[3].folder") == nil)
    }

    @Test func severalSubjectsNeedTheirOwnFoldersAndTokens() throws {
        let problems = recipeProblems("""
        version: 1
        method: dreambooth
        base_model: sd15
        subjects:
          - {token: sks, class: dog, folder: rex}
          - {token: sks, class: cat, folder: rex}
          - {token: zwx, class: cat}
        """)
        #expect(problem(problems, field: "subjects[1].folder")?.message == "the folder `rex` is also used by subjects[0]")
        let token = try #require(problem(problems, field: "subjects[1].token"))
        #expect((token.line, token.column) == (6, 5))
        #expect(problem(problems, field: "subjects[2].folder")?.message.hasPrefix("missing") == true)

        let good = try Recipe.parse("""
        version: 1
        method: dreambooth
        base_model: sd15
        subjects:
          - {token: sks, class: dog, folder: rex}
          - {token: zwx, class: cat, folder: tom}
        """, config: recipeTestConfig)
        #expect(good.subjects.map(\.classFolder) == ["rex/class", "tom/class"])
        #expect(good.samples.prompts == ["a photo of sks dog", "a photo of zwx cat"])
    }

    @Test func textualInversionLearnsOneSubject() throws {
        let problems = recipeProblems("""
        version: 1
        method: textual_inversion
        base_model: sd15
        subjects:
          - {token: "<a>", initializer: cat, folder: a}
          - {token: "<b>", initializer: dog, folder: b}
        """)
        #expect(problem(problems, field: "subjects")?.message == "textual inversion learns one embedding per job")
    }

    @Test func outputFormatsDependOnTheMethod() throws {
        let problems = recipeProblems(Self.header + "outputs:\n  formats: [diffusers, a1111, safetensor]\n")
        let a1111 = try #require(problem(problems, field: "outputs.formats[1]"))
        #expect(a1111.suggestion == "for LoRA, `kohya` is the format A1111 and ComfyUI load")
        #expect((a1111.line, a1111.column) == (6, 24))
        #expect(problem(problems, field: "outputs.formats[2]")?.message.hasPrefix("expected one of diffusers, kohya") == true)
    }

    @Test func karrasNeedsASamplerThatUsesSigmas() throws {
        let problems = recipeProblems(Self.header + "samples:\n  sampler: ddim\n  karras: true\n")
        #expect(problem(problems, field: "samples.karras")?.suggestion == "set `sampler: dpmpp_2m` or remove `karras`")
        #expect(recipeProblems(Self.header + "samples:\n  sampler: dpmpp_2m\n  karras: true\n").isEmpty)
    }

    @Test func warmupLongerThanTrainingIsRefused() throws {
        let p = try #require(problem(recipeProblems(Self.header + "train:\n  steps: 100\n  warmup_steps: 200\n"), field: "train.warmup_steps"))
        #expect(p.suggestion == "use at most 100")
    }

    @Test func sampleGridIsCapped() throws {
        let problems = recipeProblems(Self.header + "samples:\n  prompts: [a, b, c, d, e, f, g, h, i]\n  seeds: [1, 2, 3, 4, 5, 6, 7, 8]\n")
        #expect(problem(problems, field: "samples")?.message.contains("72 images") == true)
    }

    @Test func allProblemsAreReportedAtOnce() throws {
        let problems = recipeProblems("""
        version: 1
        method: dreambooth
        base_model: sd-1.5
        subject:
          token: sks
          clas: dog
        train:
          steps: lots
          resolution: 4096
          learning_rate: -1
        samples:
          sampler: k_euler
        """)
        #expect(problems.map(\.field) == ["base_model", "subject.class", "subject.clas", "train.steps", "train.resolution",
                                          "train.learning_rate", "samples.sampler"])
        #expect(problems.map(\.line) == [3, 5, 6, 8, 9, 10, 12])
        #expect(problems.allSatisfy { $0.file == "job/recipe.yaml" })
    }

    @Test func syntaxErrorsAndDuplicatesBecomeProblems() throws {
        let syntax = recipeProblems("version: 1\nmethod: lora\n  base_model: sd15\n")
        #expect(syntax.count == 1)
        #expect(syntax.first?.line == 3)
        #expect(syntax.first?.message.hasPrefix("YAML syntax:") == true)

        let duplicate = recipeProblems(Self.header + "train:\n  steps: 1\n  steps: 2\n")
        #expect(duplicate.count == 1)
        #expect((duplicate.first?.line, duplicate.first?.column) == (7, 3))
        #expect(duplicate.first?.suggestion == "keep one of the two")
    }

    @Test func hostileDocumentsAreRefused() throws {
        var laughs = "version: 1\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<9 { laughs += "x\(i): &x\(i) [" + Array(repeating: "*x\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let bomb = recipeProblems(laughs)
        #expect(bomb.count == 1)
        #expect(bomb.first?.message.contains("limit of") == true)

        var small = recipeTestConfig
        small.limits.maxRecipeBytes = 300
        let big = recipeProblems(Self.header + "# " + String(repeating: "x", count: 400) + "\n", config: small)
        #expect(big.first?.message.contains("the limit is 300 bytes") == true)

        let notAMapping = recipeProblems("- a\n- b\n")
        #expect(notAMapping.first?.message == "a recipe is a mapping of `key: value` lines; found a list")
    }

    @Test func textMayBeQuotedButNumbersMayNot() throws {
        let recipe = try Recipe.parse("""
        version: 1
        method: 'lora'
        base_model: "sd15"
        subject: {token: "1984", class: 1984, instance_prompt: yes}
        """, config: recipeTestConfig)
        #expect(recipe.method == .lora)
        #expect(recipe.subjects[0].token == "1984")
        #expect(recipe.subjects[0].className == "1984")
        #expect(recipe.subjects[0].instancePrompt == "yes")
        let quotedNumber = recipeProblems(Self.header + "train: {seed: \"0\", center_crop: \"true\"}\n")
        #expect(problem(quotedNumber, field: "train.seed")?.suggestion == "remove the quotes")
        #expect(problem(quotedNumber, field: "train.center_crop")?.message == "expected true or false, found the text \"true\" (quoted)")
    }

    @Test func nullValuesAreExplicit() throws {
        let recipe = try Recipe.parse(Self.header + "train:\n  max_grad_norm: null\n  min_snr_gamma: 5\nsamples:\n  negative_prompt:\n", config: recipeTestConfig)
        #expect(recipe.train.maxGradNorm == nil)
        #expect(recipe.train.minSNRGamma == 5)
        #expect(recipe.samples.negativePrompt == "")
        let steps = recipeProblems(Self.header + "train:\n  steps:\n")
        #expect(problem(steps, field: "train.steps")?.message == "expected a whole number, found nothing (null)")
    }
}

@Suite struct RecipeFileTests {
    func temporaryFolder() -> String {
        var template = Array("/tmp/recipefile.XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test func problemsNameTheFileAndSymlinksAreRefused() throws {
        let dir = temporaryFolder()
        let f = fopen(dir + "/real.yaml", "w")!
        fputs("version: 1\nmethod: lora\nbase_model: sd15\nsubject: {token: sks}\ntrain: {stepz: 1}\n", f)
        fclose(f)
        let error = #expect(throws: RecipeProblems.self) { try Recipe.load(path: dir + "/real.yaml", config: recipeTestConfig) }
        #expect(error?.description == "\(dir)/real.yaml:5:9: train.stepz: unknown key `stepz` (did you mean `steps`?)")

        symlink(dir + "/real.yaml", dir + "/recipe.yaml")
        let link = #expect(throws: RecipeProblems.self) { try Recipe.load(path: dir + "/recipe.yaml", config: recipeTestConfig) }
        #expect(link?.problems.first?.message.contains("symbolic link") == true)
    }

    @Test func tooManyProblemsStopsReporting() {
        let text = RecipeValidationTests.header + (0..<300).map { "junk\($0): 1\n" }.joined()
        let problems = recipeProblems(text)
        #expect(problems.count == DocumentReader.maxProblems + 1)
        #expect(problems.last?.message.hasPrefix("too many problems") == true)
    }

    @Test func captionTemplateFillsEachSubjectsOwnToken() throws {
        let recipe = try Recipe.parse("""
        version: 1
        method: lora
        base_model: sd15
        subjects:
          - {token: rex, folder: rex}
          - {token: tom, folder: tom}
        captions: {use_files: true, template: "{token}, {caption}"}
        """, config: recipeTestConfig)
        #expect(recipe.subjects[1].expand(recipe.captions.template, caption: "on a sofa") == "tom, on a sofa")
        let ambiguous = recipeProblems("""
        version: 1
        method: lora
        base_model: sd15
        subjects:
          - {token: rex, folder: rex}
          - {token: tom, folder: tom}
        samples: {prompts: ["{token} at the beach"]}
        """)
        #expect(problem(ambiguous, field: "samples.prompts[0]")?.message == "{token} is ambiguous with several subjects")
    }
}
