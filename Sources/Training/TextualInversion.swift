// Textual inversion: new token embeddings, and nothing else, learn.
//
// diffusers' textual_inversion.py grows the embedding table, initialises the new rows from an
// initializer token, lets AdamW update the whole table and then copies the original rows back.
// Here the new rows live apart from the vocabulary (CLIPTextModel.appendedTokenEmbeddings):
// only they are trainable, so the vocabulary is untouched by construction and gets no [V, D]
// gradient buffer. The update of the new rows is the same, AdamW being elementwise.

import Diffusion
import TensorEngine

public enum TextualInversion {
    /// Appends `vectors` trainable rows initialised to the embedding of `initializerTokenID`.
    /// Returns the parameter and the token ids that address the new rows (vocabulary size
    /// onward: the ids a tokenizer gives the placeholder tokens it adds).
    public static func addPlaceholderVectors(to textEncoder: CLIPTextModel, count vectors: Int,
                                             initializerTokenID: Int) -> (parameter: TrainableParameter, tokenIDs: [Int]) {
        precondition(textEncoder.appendedTokenEmbeddings == nil, "the text encoder already has appended token embeddings")
        let (vocab, d) = (textEncoder.config.vocabSize, textEncoder.config.hiddenSize)
        precondition(vectors > 0 && (0..<vocab).contains(initializerTokenID), "need at least one vector and an initializer token in the vocabulary")
        let rows = Tensor(uninitializedShape: [vectors, d])
        for i in 0..<vectors {
            (rows.data + i * d).update(from: textEncoder.tokenEmbedding.data + initializerTokenID * d, count: d)
        }
        rows.requiresGrad = true
        textEncoder.appendedTokenEmbeddings = rows
        return (TrainableParameter(part: .textEncoder, name: "appended_token_embeddings", tensor: rows),
                Array(vocab..<(vocab + vectors)))
    }
}
