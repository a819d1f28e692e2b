// One component's parameters under their diffusers/transformers names, over the opened files:
// the `WeightSource` the models read. Names are resolved once at open; bytes are read (and
// float16/bfloat16 widened) only when a model asks for a tensor.
import ModelIO
import TensorEngine

public final class CheckpointWeights: WeightSource, @unchecked Sendable {
    struct Recipe {
        let stored: StoredTensor
        var transform: LDMTransform = .none
    }

    public let component: CheckpointComponent
    let recipes: [String: Recipe]
    /// The files the recipes read, each once.
    private let files: [SafeTensorsFile]

    init(component: CheckpointComponent, recipes: [String: Recipe]) {
        self.component = component
        self.recipes = recipes
        var seen = Set<ObjectIdentifier>()
        files = recipes.values.map(\.stored.file).filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    /// diffusers names; the text encoder's without transformers' `text_model.` level (how
    /// transformers ≥ 5.6 names a CLIPTextModel's tensors), whatever the file used.
    /// `tensor(named:)` also answers `text_model.…` (code written against transformers 4), but
    /// `contains` only the names listed here, so a model that probes for the prefix reads the
    /// listed names and its unused-tensor report stays exact.
    public var tensorNames: [String] { Array(recipes.keys) }

    public func contains(_ name: String) -> Bool { recipes[name] != nil }

    /// Drops the resident pages of the files this component reads (SafeTensorsFile.releaseResidentPages).
    public func releaseResidentPages() {
        for file in files { file.releaseResidentPages() }
    }

    /// How many numbers the component's tensors hold (from the headers, nothing is read).
    public var parameterCount: Int {
        recipes.keys.reduce(0) { $0 + (shape(of: $1)?.reduce(1, *) ?? 0) }
    }

    /// The stored shape after the transform (nil when absent), without reading data.
    public func shape(of name: String) -> [Int]? {
        guard let r = resolve(name) else { return nil }
        return Self.shape(r)
    }

    /// Bytes read since the files last let go of their pages.
    private var bytesSinceRelease = 0
    /// How much a model may read before the pages read so far are dropped: the tensors before
    /// have been copied by then (layers read one after another), so building a network never
    /// holds much more than its copies, even when a float32 file is kept in half precision.
    static let releaseInterval = 256 << 20

    public func tensor(named name: String) throws -> Tensor? {
        guard let r = resolve(name) else { return nil }
        bytesSinceRelease += r.stored.entry.byteCount
        if bytesSinceRelease > Self.releaseInterval {
            releaseResidentPages()
            bytesSinceRelease = r.stored.entry.byteCount
        }
        switch r.transform {
        case .none:
            return try TensorFiles.load(r.stored)
        case .conv1x1ToLinear:
            return try TensorFiles.load(r.stored, shape: Self.shape(r))
        case .thirdOfRows(let part):
            let n = r.stored.shape[0] / 3
            return try TensorFiles.load(r.stored, rows: part * n ..< (part + 1) * n)
        }
    }

    /// float16 / bfloat16 as stored in the file (a transform only selects or reshapes values).
    public func storedHalfFormat(of name: String) -> HalfTensor.Format? {
        switch resolve(name)?.stored.entry.dtype {
        case .f16?: return .float16
        case .bf16?: return .bfloat16
        default: return nil
        }
    }

    /// The file a tensor comes from and its name there (for messages).
    public func origin(of name: String) -> (path: String, storedName: String)? {
        resolve(name).map { ($0.stored.file.path, $0.stored.name) }
    }

    private func resolve(_ name: String) -> Recipe? {
        if let r = recipes[name] { return r }
        if component == .textEncoder, let bare = name.dropPrefix("text_model.") { return recipes[bare] }
        return nil
    }

    static func shape(_ r: Recipe) -> [Int] {
        let s = r.stored.shape
        switch r.transform {
        case .none: return s
        case .conv1x1ToLinear: return s.count == 4 && s[2] == 1 && s[3] == 1 ? [s[0], s[1]] : s
        case .thirdOfRows: return [s[0] / 3] + s.dropFirst()
        }
    }
}
