import TensorEngine

public struct AdapterApplicationError: Error, CustomStringConvertible, Equatable {
    public let problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// Attaches LoRAs to a UNet and text encoder through the layers' `lora` hooks.
///
/// A layer holds one adapter, so several LoRAs on the same layer are merged into one pair by
/// stacking their ranks: with downs A_i and ups B_i at scales s_i,
///   Σ s_i·B_i·A_i = [s_1·B_1 … s_k·B_k] · [A_1; …; A_k],
/// which is exact: the merged pair computes the sum of the individual updates.
public enum AdapterApplication {
    /// Sets the `lora` of every layer named by `adapters` (each at its scale) and clears every
    /// other layer's. A name that matches no layer, or factors that do not fit it, is an error
    /// naming the adapter and layer.
    public static func applyLoRAs(_ adapters: [(name: String, weights: LowRankWeights, scale: Float)],
                                  unet: UNet2DConditionModel, textEncoder: CLIPTextModel) throws {
        try apply(adapters.map { ($0.name, $0.weights.unet, $0.scale) }, linears: unet.linearLayers, convs: unet.convLayers, model: "UNet")
        try apply(adapters.map { ($0.name, $0.weights.textEncoder, $0.scale) }, linears: textEncoder.linearLayers, convs: [], model: "text encoder")
    }

    /// Removes every adapter from both models.
    public static func clear(unet: UNet2DConditionModel, textEncoder: CLIPTextModel) {
        for l in unet.linearLayers { l.lora = nil }
        for c in unet.convLayers { c.lora = nil }
        for l in textEncoder.linearLayers { l.lora = nil }
    }

    private static func apply(_ adapters: [(String, [String: LowRankWeights.Pair], Float)],
                              linears: [Linear], convs: [Conv2d], model: String) throws {
        let linearByName = Dictionary(linears.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let convByName = Dictionary(convs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var linearParts: [String: [(LowRankWeights.Pair, Float)]] = [:]
        var convParts: [String: [(LowRankWeights.Pair, Float)]] = [:]
        for (adapterName, pairs, scale) in adapters {
            for (layerName, pair) in pairs {
                let factor = scale * pair.alphaScale
                if let layer = linearByName[layerName] {
                    guard pair.down.rank == 2, pair.up.rank == 2, pair.down.shape[1] == layer.inFeatures,
                          pair.up.shape[0] == layer.outFeatures, pair.up.shape[1] == pair.down.shape[0] else {
                        throw AdapterApplicationError("\(adapterName): \(model) layer \"\(layerName)\" is linear [\(layer.outFeatures), \(layer.inFeatures)]; the LoRA has down \(pair.down.shape), up \(pair.up.shape)")
                    }
                    if factor != 0 { linearParts[layerName, default: []].append((pair, factor)) }
                } else if let conv = convByName[layerName] {
                    guard pair.down.rank == 4, pair.up.rank == 4, pair.down.shape[3] == conv.inChannels,
                          pair.down.shape[1] == conv.kernelSize, pair.up.shape[0] == conv.outChannels,
                          pair.up.shape[3] == pair.down.shape[0] else {
                        throw AdapterApplicationError("\(adapterName): \(model) layer \"\(layerName)\" is a \(conv.kernelSize)x\(conv.kernelSize) conv \(conv.inChannels)→\(conv.outChannels); the LoRA has down \(pair.down.shape), up \(pair.up.shape)")
                    }
                    if factor != 0 { convParts[layerName, default: []].append((pair, factor)) }
                } else {
                    throw AdapterApplicationError("\(adapterName): the \(model) has no layer \"\(layerName)\"")
                }
            }
        }
        // At scale 0 a LoRA is absent: nothing is attached rather than an exact-zero update.
        for layer in linears {
            layer.lora = linearParts[layer.name].map { parts in
                LoRA(down: concat(parts.map { $0.0.down }, axis: 0),
                     up: concat(parts.map { $0.0.up * $0.1 }, axis: 1), scale: 1)
            }
        }
        for conv in convs {
            conv.lora = convParts[conv.name].map { parts in
                ConvLoRA(down: concat(parts.map { $0.0.down }, axis: 0),
                         up: concat(parts.map { $0.0.up * $0.1 }, axis: 3), scale: 1)
            }
        }
    }
}
