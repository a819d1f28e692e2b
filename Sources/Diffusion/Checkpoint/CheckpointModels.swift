// The three networks of an opened checkpoint, each built from its config and weights. A
// tensor the network did not read is an error: it means the file holds something this code
// does not understand, which must not be dropped silently. Once built, the network's files let
// go of the pages it read (CheckpointWeights.releaseResidentPages): what it copied is not
// kept twice.

extension StableDiffusionCheckpoint {
    public func loadUNet() throws -> UNet2DConditionModel {
        let model = try UNet2DConditionModel(config: unetConfig, weights: unetWeights)
        try requireAllRead(model.unusedTensorNames, unetWeights)
        unetWeights.releaseResidentPages()
        return model
    }

    public func loadVAE() throws -> AutoencoderKL {
        let model = try AutoencoderKL(config: vaeConfig, weights: vaeWeights)
        try requireAllRead(model.unusedTensorNames, vaeWeights)
        vaeWeights.releaseResidentPages()
        return model
    }

    /// The pooled output uses the config's eos_token_id when it has one, CLIP's 49407 otherwise.
    public func loadTextEncoder() throws -> CLIPTextModel {
        let model = try CLIPTextModel(config: textEncoderConfig, weights: textEncoderWeights, endOfTextTokenID: endOfTextTokenID ?? 49407)
        try requireAllRead(model.unusedTensorNames, textEncoderWeights)
        textEncoderWeights.releaseResidentPages()
        return model
    }

    private func requireAllRead(_ unused: [String], _ weights: CheckpointWeights) throws {
        guard let name = unused.first else { return }
        let origin = weights.origin(of: name)
        throw CheckpointError.unknownTensor(path: origin?.path ?? path, name: origin?.storedName ?? name)
    }
}
