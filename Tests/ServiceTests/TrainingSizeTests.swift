import Foundation
import Testing
@testable import Service

/// Recipes accept sizes in multiples of `Recipe.sizeStep`; the base model may need coarser
/// ones, and the training phase says so, naming the field, before caching or drawing anything.
struct TrainingSizeTests {
    @Test func sizesTheBaseModelCannotTakeAreRefusedByField() throws {
        let folder = TemporaryDirectory()
        folder.write("recipe.yaml", """
            version: 1
            method: lora
            base_model: tiny
            subject: {token: sks}
            train: {resolution: 64}
            """)
        let config = ServiceConfig(inbox: folder.path, outbox: folder.path, stateDirectory: folder.path,
                                   models: ["tiny": TrainingJobTests.sd1Tiny])
        var recipe = try Recipe.load(path: folder.path + "/recipe.yaml", config: config)
        try TrainingPhase.checkSizes(recipe, basePath: TrainingJobTests.sd1Tiny)   // sd1-tiny steps by 4 px

        recipe.train.resolution = 18
        recipe.samples.width = 30
        do {
            try TrainingPhase.checkSizes(recipe, basePath: TrainingJobTests.sd1Tiny)
            Issue.record("sizes that are not multiples of 4 were accepted")
        } catch let failure as JobFailure {
            #expect(failure.message.contains("train.resolution: 18 is not a multiple of 4"))
            #expect(failure.message.contains("samples.size: the width 30 is not a multiple of 4"))
            #expect(!failure.message.contains("height"))
        }
    }
}
