import Foundation

/// A textual-inversion embedding: a placeholder token and the n vectors (each of the text
/// encoder's hidden size) that replace it in the prompt's token embeddings.
///
/// Files in circulation:
/// - diffusers' `learned_embeds.safetensors`: one tensor named by the token, [n, dim] or [dim];
/// - A1111-style safetensors: `emb_params` [n, dim] (the token is the file name, or the `name`
///   metadata), or the flattened `string_to_param.*` of A1111's own .pt layout, with the
///   `string_to_token.*` id tensor beside it;
/// - SDXL embeddings: `clip_l` [n, 768] + `clip_g` [n, 1280], one per text encoder (not yet).
public struct TextualInversionEmbedding: Sendable, Equatable {
    public var token: String
    /// Row-major [count, dimension].
    public var vectors: [Float]
    public var count: Int
    public var dimension: Int
    public var metadata: [String: String]

    public init(token: String, vectors: [Float], count: Int, dimension: Int, metadata: [String: String] = [:]) {
        precondition(count > 0 && dimension > 0 && vectors.count == count * dimension, "TextualInversionEmbedding: \(vectors.count) values are not \(count) × \(dimension)")
        self.token = token; self.vectors = vectors; self.count = count; self.dimension = dimension; self.metadata = metadata
    }

    public func vector(_ i: Int) -> ArraySlice<Float> { vectors[(i * dimension)..<((i + 1) * dimension)] }

    /// The A1111 key and metadata names.
    public static let a1111Key = "emb_params"
    static let expectedKeys = "a single tensor named by its token, [n, dim] or [dim] (diffusers), or 'emb_params' [n, dim] (A1111)"

    // MARK: Reading

    /// Reads either convention. `token` overrides the file's own (as diffusers' `token=` does);
    /// an A1111 file without a `name` in its metadata is named after the file.
    public static func read(path: String, token: String? = nil) throws -> TextualInversionEmbedding {
        let file = try SafeTensorsFile(path: path)
        let names = file.names
        if names.contains("clip_l") || names.contains("clip_g") {
            throw AdapterError.unsupported(path: path, what: "an SDXL embedding (clip_l/clip_g, one per text encoder); SDXL embeddings are not supported yet")
        }
        guard !names.isEmpty else { throw AdapterError.empty(path: path, expected: expectedKeys) }
        let fileStem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension

        let key: String, fileToken: String
        let parameterKeys = names.filter { $0.hasPrefix("string_to_param.") }
        if names.contains(a1111Key) {
            if let other = names.first(where: { $0 != a1111Key }) {
                throw AdapterError.unrecognisedKey(path: path, key: other, expected: "only '\(a1111Key)' in an A1111 embedding")
            }
            key = a1111Key; fileToken = file.metadata["name"] ?? fileStem
        } else if !parameterKeys.isEmpty {
            // A1111's .pt layout flattened: string_to_param.* (the vectors), string_to_token.* (an id we do not need).
            if let other = names.first(where: { !$0.hasPrefix("string_to_param.") && !$0.hasPrefix("string_to_token.") }) {
                throw AdapterError.unrecognisedKey(path: path, key: other, expected: "'string_to_param.*' and 'string_to_token.*' in an A1111 embedding")
            }
            guard parameterKeys.count == 1 else {
                throw AdapterError.inconsistent(path: path, key: parameterKeys[1], reason: "a second string_to_param entry; an embedding file holds one")
            }
            key = parameterKeys[0]; fileToken = file.metadata["name"] ?? fileStem
        } else {
            guard names.count == 1 else {
                throw AdapterError.unrecognisedKey(path: path, key: names[1], expected: expectedKeys + "; this file has \(names.count) tensors")
            }
            key = names[0]; fileToken = names[0]
        }
        let entry = try file.entry(key)
        let count: Int, dimension: Int
        switch entry.shape.count {
        case 1: (count, dimension) = (1, entry.shape[0])
        case 2: (count, dimension) = (entry.shape[0], entry.shape[1])
        default:
            throw AdapterError.inconsistent(path: path, key: key, reason: "shape \(entry.shape); expected [n, dim] or [dim]")
        }
        guard count > 0, dimension > 0 else { throw AdapterError.inconsistent(path: path, key: key, reason: "shape \(entry.shape) holds no vectors") }
        guard [.f32, .f16, .bf16, .f64].contains(entry.dtype) else {
            throw AdapterError.inconsistent(path: path, key: key, reason: "dtype \(entry.dtype.rawValue); expected a floating-point tensor")
        }
        return TextualInversionEmbedding(token: token ?? fileToken, vectors: try file.floats(key), count: count,
                                         dimension: dimension, metadata: file.metadata)
    }

    // MARK: Writing

    /// diffusers' `learned_embeds.safetensors`: {token: [n, dim]}, the metadata as given.
    public func diffusersWriter(dtype: SafeTensorsDType = .f32) -> SafeTensorsWriter {
        var writer = SafeTensorsWriter(metadata: metadata)
        writer.add(token, shape: [count, dimension], values: vectors, dtype: dtype)
        return writer
    }

    /// A1111-style: {emb_params: [n, dim]} with the token as `name` in the metadata (the web UI
    /// itself names an embedding after its file, so callers should name the file after the token).
    public func a1111Writer(dtype: SafeTensorsDType = .f32) -> SafeTensorsWriter {
        var m = metadata
        m["name"] = token
        var writer = SafeTensorsWriter(metadata: m)
        writer.add(Self.a1111Key, shape: [count, dimension], values: vectors, dtype: dtype)
        return writer
    }

    public func writeDiffusers(to path: String, dtype: SafeTensorsDType = .f32) throws { try diffusersWriter(dtype: dtype).write(to: path) }
    public func writeA1111(to path: String, dtype: SafeTensorsDType = .f32) throws { try a1111Writer(dtype: dtype).write(to: path) }
}
