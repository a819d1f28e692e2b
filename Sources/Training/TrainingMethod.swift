/// The three ways dropbooth personalises a model (DESIGN.md layer 4).
public enum TrainingMethod: String, Sendable, CaseIterable {
    case lora
    case dreambooth
    case textualInversion = "textual_inversion"
}
