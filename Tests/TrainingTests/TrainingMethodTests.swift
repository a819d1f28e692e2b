import Testing
import Training

@Suite struct TrainingMethodTests {
    @Test func recipeNamesMapToMethods() {
        #expect(TrainingMethod(rawValue: "textual_inversion") == .textualInversion)
        #expect(TrainingMethod(rawValue: "full") == nil)
    }
}
