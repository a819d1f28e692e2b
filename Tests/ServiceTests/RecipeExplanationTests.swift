#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Service

@Suite struct RecipeExplanationTests {
    func makeJob(_ files: [String]) -> String {
        var template = Array("/tmp/recipecheck.XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let dir = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for file in files {
            let parts = file.split(separator: "/")
            if parts.count > 1 { mkdir(dir + "/" + parts.dropLast().joined(separator: "/"), 0o755) }
            fclose(fopen(dir + "/" + file, "w"))
        }
        return dir
    }

    @Test func countsImagesCaptionsAndClassImages() throws {
        let job = makeJob(["a.jpg", "b.JPEG", "c.png", "a.txt", "notes.txt", ".hidden.jpg", "recipe.yaml", "class/x.jpg", "class/y.png"])
        symlink("/etc/hostname", job + "/link.jpg")
        let recipe = try Recipe.parse("version: 1\nmethod: dreambooth\nbase_model: sd15\nsubject: {token: sks, class: dog}\nprior_preservation: {class_images: 5}\ncaptions: {use_files: true}\n",
                                      config: recipeTestConfig)
        let e = RecipeExplanation(recipe: recipe, jobFolder: job, limits: .init(), modelPath: "/models/sd15")
        #expect(e.imageFolders == [.init(field: "subject.folder", path: job, exists: true, images: 3, captioned: 1)])
        #expect(e.classImages == [.init(field: "subject.class_folder", path: job + "/class", provided: 2, toGenerate: 3, prompt: "a photo of a dog")])
        #expect(e.problems.isEmpty)
        #expect(e.summary.first == "DreamBooth (a rank-4 LoRA on the attention, text encoder too) on base model sd15 (/models/sd15)")
        #expect(e.text.contains("Class images (subject.class_folder): 2 in \(job)/class, 3 to generate from \"a photo of a dog\""))
    }

    @Test func missingAndEmptyFoldersAreProblems() throws {
        let job = makeJob(["rex/a.jpg", "tom/readme.txt"])
        let recipe = try Recipe.parse("""
        version: 1
        method: lora
        base_model: sd15
        subjects:
          - {token: rex, folder: rex}
          - {token: tom, folder: tom}
          - {token: max, folder: max}
        """, config: recipeTestConfig)
        let e = RecipeExplanation(recipe: recipe, jobFolder: job, limits: .init(), modelPath: nil)
        #expect(e.imageFolders.map(\.images) == [1, 0, 0])
        #expect(e.problems == [
            "\(job)/tom: subjects[1].folder: 0 images (jpg, png); the service needs at least 1",
            "\(job)/max: subjects[2].folder: the folder does not exist (put the photos there)",
        ])
        #expect(e.classImages.isEmpty)
    }
}

@Suite struct RecipeExplanationCaptionTests {
    @Test func textualInversionCaptionsMustContainTheToken() throws {
        let job = RecipeExplanationTests().makeJob(["a.jpg", "b.jpg", "c.jpg"])
        for (name, text) in [("a.txt", "<cat> on a sofa"), ("b.txt", "a cat on a chair")] {
            let f = fopen(job + "/" + name, "w")!
            fputs(text, f)
            fclose(f)
        }
        let base = "version: 1\nmethod: textual_inversion\nbase_model: sd15\nsubject: {token: \"<cat>\", initializer: cat}\n"
        let files = try Recipe.parse(base + "captions: {use_files: true}\n", config: recipeTestConfig)
        let e = RecipeExplanation(recipe: files, jobFolder: job, limits: .init(), modelPath: nil)
        #expect(e.imageFolders.first?.captioned == 2)
        #expect(e.problems.count == 1)
        #expect(e.problems.first?.hasPrefix("\(job)/b.txt: captions: the caption does not contain the token `<cat>`") == true)

        let templated = try Recipe.parse(base + "captions: {use_files: true, template: \"{token}, {caption}\"}\n", config: recipeTestConfig)
        #expect(RecipeExplanation(recipe: templated, jobFolder: job, limits: .init(), modelPath: nil).problems.isEmpty)
    }
}
