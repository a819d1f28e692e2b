// A Stable Diffusion model written as one .safetensors in the original LDM layout, the file the
// web UIs (A1111, ComfyUI) load: what full DreamBooth publishes besides a diffusers folder.
//
// The names are CheckpointNames' mapping run backwards. That file holds the tables (resnet
// parts, VAE attention parts, OpenCLIP parts, the top-level renames) and documents the index
// arithmetic of LDM's flat block lists; here each diffusers name is turned into the LDM name
// that mapping sends back to it, and every name written is checked by running the forward
// mapping on it: the file is only written when reading it back gives the same tensors.
//
// SD 2.x's OpenCLIP text encoder holds one resblock more than the diffusers model (SD 2.x reads
// the penultimate layer) and q, k, v fused into one in_proj: the fused tensors are stacked by
// rows, and the unused last resblock (plus text_projection) is copied from the
// base file when it was a single file, zeros otherwise (nothing ever reads it for SD 2.x).
//
// What the tensor shapes cannot tell (attention heads of small models, norm groups,
// v-prediction, upcast attention) goes into a sidecar `<name>.json` beside the file, written
// only when reading the file alone would give a different config.
import Foundation
import ModelIO
import TensorEngine

public enum SingleFileExport {
    public struct Options: Sendable {
        /// Stored dtype: float16 as Stable Diffusion files are distributed, or float32.
        public var dtype: SafeTensorsDType = .f16
        /// Written into the header's `__metadata__` (base model, method, steps, recipe
        /// fingerprint, ...), beside "format": "pt".
        public var metadata: [String: String] = [:]
        public init(dtype: SafeTensorsDType = .f16, metadata: [String: String] = [:]) {
            self.dtype = dtype; self.metadata = metadata
        }
    }

    /// Writes `base` with `replacements` (per component, diffusers names, PyTorch layout: the
    /// trained UNet and maybe text encoder) to `path` as one LDM single file. Every replacement
    /// must name a tensor of the base model with the same shape. Returns the sidecar written
    /// beside it, if one was needed.
    @discardableResult
    public static func write(base: StableDiffusionCheckpoint, replacements: [CheckpointComponent: [String: Tensor]] = [:],
                             to path: String, options: Options = Options()) throws -> String? {
        guard [.f32, .f16, .bf16].contains(options.dtype) else {
            throw SingleFileExportError(path: path, problem: "dtype \(options.dtype.rawValue): F32, F16 or BF16 only")
        }
        for (component, tensors) in replacements {
            for (name, tensor) in tensors {
                guard let shape = base.weights(component).shape(of: name) else {
                    throw SingleFileExportError(path: path, problem: "replacement \(component.rawValue) tensor \(name) is not in the base model \(base.path)")
                }
                guard shape == tensor.shape else {
                    throw SingleFileExportError(path: path, problem: "replacement \(component.rawValue) tensor \(name) has shape \(tensor.shape); the base model's is \(shape)")
                }
            }
        }
        let plan = try LDMExportPlan(base: base, path: path)
        let partial = path + ".partial"
        defer { unlink(partial) }
        var metadata = options.metadata
        metadata["format"] = "pt"
        metadata["dropbooth.layout"] = plan.family == .sd1 ? "ldm-sd1" : "ldm-sd2"
        try SafeTensorsStream.write(to: partial, dtype: options.dtype, metadata: metadata,
                                    tensors: plan.entries.map { entry in (entry.name, entry.shape, {
            try entry.values { component, name in
                if let t = replacements[component]?[name] { return t }
                guard let t = try base.weights(component).tensor(named: name) else {
                    throw SingleFileExportError(path: path, problem: "base model \(base.path) has no \(component.rawValue) tensor \(name)")
                }
                return t
            }
        }) })

        // Read it back alone; where the shapes do not say enough, a sidecar must.
        let sidecarPath = ((path as NSString).deletingPathExtension) + ".json"
        let partialSidecar = ((path as NSString).deletingPathExtension) + ".partial.json"   // read as JSON by its extension
        defer { unlink(partialSidecar) }
        var sidecar: String?
        if try !plan.readsBackAs(base, file: partial, sidecar: nil) {
            try sidecarJSON(for: base).write(to: URL(fileURLWithPath: partialSidecar))
            guard try plan.readsBackAs(base, file: partial, sidecar: partialSidecar) else {
                throw SingleFileExportError(path: path, problem: "the written file does not read back with the base model's configs, even with a sidecar")
            }
            sidecar = sidecarPath
        }
        if let sidecar {
            guard rename(partialSidecar, sidecar) == 0 else { throw SingleFileExportError(path: sidecar, problem: "rename: \(String(cString: strerror(errno)))") }
        } else {
            unlink(sidecarPath)   // an older export's sidecar would now describe the wrong model
        }
        guard rename(partial, path) == 0 else { throw SingleFileExportError(path: path, problem: "rename: \(String(cString: strerror(errno)))") }
        return sidecar
    }

    /// What SingleFileCheckpoint reads from a sidecar, taken from the base model's configs.
    static func sidecarJSON(for base: StableDiffusionCheckpoint) throws -> Data {
        var unet: [String: Any] = ["attention_head_dim": base.unetConfig.attentionHeadDim,
                                   "norm_num_groups": base.unetConfig.normNumGroups,
                                   "norm_eps": Double(base.unetConfig.normEps)]
        if let heads = base.unetConfig.numAttentionHeads { unet["num_attention_heads"] = heads }
        let json: [String: Any] = [
            "prediction_type": base.schedulerConfig.predictionType.rawValue,
            "upcast_attention": base.unetConfig.upcastAttention,
            "unet": unet,
            "vae": ["norm_num_groups": base.vaeConfig.normNumGroups, "scaling_factor": Double(base.vaeConfig.scalingFactor)],
            "text_encoder": ["num_attention_heads": base.textEncoderConfig.numAttentionHeads,
                             "layer_norm_eps": Double(base.textEncoderConfig.layerNormEps)],
        ]
        return try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
    }
}

public struct SingleFileExportError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "single-file export \(path): \(problem)" }
}

/// Which LDM tensor comes from which diffusers tensors, for one base model.
struct LDMExportPlan {
    enum Family { case sd1, sd2 }

    struct Entry {
        let name: String
        let shape: [Int]
        /// Given a way to fetch (component, diffusers name) → tensor, the values to store.
        let values: (_ fetch: (CheckpointComponent, String) throws -> Tensor) throws -> [Float]
    }

    let family: Family
    let layout: LDMLayout
    private(set) var entries: [Entry] = []

    init(base: StableDiffusionCheckpoint, path: String) throws {
        switch base.format {
        case .singleFile(let f): family = f == .sd1 ? .sd1 : .sd2
        case .diffusersFolder: family = base.textEncoderConfig.hiddenAct == .gelu ? .sd2 : .sd1
        }
        let perBlock = base.unetConfig.layersPerBlock
        guard let L = perBlock.first, perBlock.allSatisfy({ $0 == L }) else {
            throw SingleFileExportError(path: path, problem: "layers_per_block \(perBlock): the LDM layout numbers blocks with one count for all")
        }
        let levels = base.vaeConfig.blockOutChannels.count
        let layers = base.textEncoderConfig.numHiddenLayers
        layout = LDMLayout(unetLayersPerBlock: L, vaeLevels: levels, openCLIPResblocks: family == .sd2 ? layers + 1 : nil)

        var covered = Set<String>()   // "component/name" of every diffusers tensor placed
        func add(_ ldm: String, _ component: CheckpointComponent, _ name: String, base weights: CheckpointWeights) throws {
            // The forward mapping decides: it must send `ldm` back to exactly this tensor.
            guard case .mapped(let targets) = CheckpointNames.map(ldm, layout: layout), targets.count == 1,
                  targets[0].component == component, targets[0].name == name else {
                throw SingleFileExportError(path: path, problem: "internal: \(ldm) does not map back to \(component.rawValue) \(name)")
            }
            var shape = weights.shape(of: name)!
            if targets[0].transform == .conv1x1ToLinear { shape += [1, 1] }
            entries.append(Entry(name: ldm, shape: shape, values: { fetch in try fetch(component, name).scalars }))
            covered.insert("\(component.rawValue)/\(name)")
        }

        let unet = base.unetWeights
        let upBlocksWithAttention = Set(unet.tensorNames.compactMap { name -> Int? in
            guard let rest = name.dropPrefix("up_blocks."), rest.contains(".attentions.") else { return nil }
            return Int(rest.prefix { $0 != "." })
        })
        for name in unet.tensorNames.sorted() {
            guard let ldm = Self.ldmUNetName(name, layersPerBlock: L, upBlockHasAttention: upBlocksWithAttention.contains) else {
                throw SingleFileExportError(path: path, problem: "UNet tensor \(name) has no place in the LDM layout")
            }
            try add(CheckpointNames.unetPrefix + ldm, .unet, name, base: unet)
        }
        let vae = base.vaeWeights
        for name in vae.tensorNames.sorted() {
            guard let ldm = Self.ldmVAEName(name, levels: levels) else {
                throw SingleFileExportError(path: path, problem: "VAE tensor \(name) has no place in the LDM layout")
            }
            try add(CheckpointNames.vaePrefix + ldm, .vae, name, base: vae)
        }
        let text = base.textEncoderWeights
        switch family {
        case .sd1:
            for name in text.tensorNames.sorted() {
                try add(CheckpointNames.clipPrefix + "text_model." + name, .textEncoder, name, base: text)
            }
        case .sd2:
            let (fused, fusedNames) = try Self.openCLIPEntries(text, layers: layers, layout: layout, base: base, path: path, add: add)
            entries += fused
            covered.formUnion(fusedNames.map { "\(CheckpointComponent.textEncoder.rawValue)/\($0)" })
        }

        for (component, weights) in [(CheckpointComponent.unet, unet), (.vae, vae), (.textEncoder, text)] {
            if let missed = weights.tensorNames.sorted().first(where: { !covered.contains("\(component.rawValue)/\($0)") }) {
                throw SingleFileExportError(path: path, problem: "\(component.rawValue) tensor \(missed) has no place in the LDM layout")
            }
        }
        entries.sort { $0.name < $1.name }
    }

    /// OpenCLIP names: fused q/k/v, the unused last resblock and text_projection.
    /// Plain names go through `add`; the fused and unused tensors are returned.
    private static func openCLIPEntries(_ text: CheckpointWeights, layers: Int, layout: LDMLayout, base: StableDiffusionCheckpoint, path: String,
                                        add: (String, CheckpointComponent, String, CheckpointWeights) throws -> Void)
        throws -> (entries: [Entry], fusedNames: [String]) {
        var entries: [Entry] = []
        var fusedNames: [String] = []
        let p = CheckpointNames.openCLIPPrefix
        for name in text.tensorNames.sorted() {
            if let ldm = CheckpointNames.openCLIPTopLevel.first(where: { $0.value == name })?.key {
                try add(p + ldm, .textEncoder, name, text)
                continue
            }
            guard let rest = name.dropPrefix("encoder.layers."), let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]) else {
                throw SingleFileExportError(path: path, problem: "text encoder tensor \(name) has no place in OpenCLIP's layout")
            }
            let part = String(rest[rest.index(after: dot)...])
            if part.hasPrefix("self_attn.q_proj.") || part.hasPrefix("self_attn.k_proj.") || part.hasPrefix("self_attn.v_proj.") {
                continue   // fused below
            }
            guard let (ldm, hf) = CheckpointNames.openCLIPLayerParts.first(where: { part.hasPrefix($0.value) }) else {
                throw SingleFileExportError(path: path, problem: "text encoder tensor \(name) has no place in OpenCLIP's layout")
            }
            try add("\(p)transformer.resblocks.\(i).\(ldm)\(part.dropFirst(hf.count))", .textEncoder, name, text)
        }
        for i in 0..<layers {
            for kind in ["weight", "bias"] {
                let ldm = "\(p)transformer.resblocks.\(i).attn.in_proj_\(kind)"
                let names = ["q", "k", "v"].map { "encoder.layers.\(i).self_attn.\($0)_proj.\(kind)" }
                guard case .mapped(let targets) = CheckpointNames.map(ldm, layout: layout),
                      targets.map(\.name) == names, targets.map(\.transform) == (0..<3).map({ .thirdOfRows(part: $0) }) else {
                    throw SingleFileExportError(path: path, problem: "internal: \(ldm) does not map back to \(names)")
                }
                guard let shape = text.shape(of: names[0]) else {
                    throw SingleFileExportError(path: path, problem: "text encoder has no \(names[0])")
                }
                entries.append(Entry(name: ldm, shape: [3 * shape[0]] + shape.dropFirst(), values: { fetch in
                    try names.flatMap { try fetch(.textEncoder, $0).scalars }
                }))
                fusedNames += names
            }
        }
        // What SD 2.x never reads but OpenCLIP's own layout has (as diffusers' converter writes
        // it: the last resblock and text_projection, not logit_scale).
        let last = "\(p)transformer.resblocks.\(layers)."
        var unused: [(String, [Int])] = []
        for (ldm, hf) in CheckpointNames.openCLIPLayerParts.sorted(by: { $0.key < $1.key }) {
            for kind in ["weight", "bias"] {
                guard let shape = text.shape(of: "encoder.layers.\(layers - 1).\(hf)\(kind)") else { continue }
                unused.append((last + ldm + kind, shape))
            }
        }
        if let q = text.shape(of: "encoder.layers.\(layers - 1).self_attn.q_proj.weight") {
            unused.append((last + "attn.in_proj_weight", [3 * q[0], q[1]]))
            unused.append((last + "attn.in_proj_bias", [3 * q[0]]))
        }
        let width = base.textEncoderConfig.hiddenSize
        unused.append((p + "text_projection", [width, width]))
        let baseFile: SafeTensorsFile? = {
            if case .singleFile = base.format { return try? TensorFiles.open(base.path) }
            return nil
        }()
        for (ldm, shape) in unused {
            guard CheckpointNames.map(ldm, layout: layout) == .skipped else {
                throw SingleFileExportError(path: path, problem: "internal: \(ldm) is expected to be unused by SD 2.x")
            }
            if let file = baseFile, let entry = file.entries[ldm], entry.shape == shape {
                entries.append(Entry(name: ldm, shape: shape, values: { _ in try file.floats(ldm) }))
            } else {
                entries.append(Entry(name: ldm, shape: shape, values: { _ in [Float](repeating: 0, count: shape.reduce(1, *)) }))
            }
        }
        return (entries, fusedNames)
    }

    /// Reopens `file` as SingleFileCheckpoint does and compares configs with `base`.
    func readsBackAs(_ base: StableDiffusionCheckpoint, file: String, sidecar: String?) throws -> Bool {
        // A sidecar path that does not exist would be an error; "no sidecar" needs a name
        // beside which none can be: the partial file's own stem has none.
        guard let reopened = try? SingleFileCheckpoint(path: file, options: CheckpointOptions(sidecarPath: sidecar)) else {
            if sidecar == nil { return false }
            _ = try SingleFileCheckpoint(path: file, options: CheckpointOptions(sidecarPath: sidecar))   // rethrow its reason
            return false
        }
        return reopened.unet == base.unetConfig && reopened.vae == base.vaeConfig && reopened.textEncoder == base.textEncoderConfig
            && reopened.scheduler.predictionType == base.schedulerConfig.predictionType
    }

    // MARK: Names: CheckpointNames' rules backwards

    /// The inverse of `CheckpointNames.unet` (see its table of LDM's flat numbering).
    static func ldmUNetName(_ name: String, layersPerBlock L: Int, upBlockHasAttention: (Int) -> Bool) -> String? {
        for (ldm, diffusers) in CheckpointNames.unetTopLevel {
            if let rest = name.dropPrefix(diffusers) { return ldm + rest }
        }
        func resnet(_ rest: String) -> String? {
            CheckpointNames.resnetParts.first { rest.hasPrefix($0.value) }.map { $0.key + rest.dropFirst($0.value.count) }
        }
        let parts = name.split(separator: ".", maxSplits: 4).map(String.init)
        if parts.count >= 4, parts[0] == "mid_block", let k = Int(parts[2]) {
            let rest = parts.dropFirst(3).joined(separator: ".")
            switch (parts[1], k) {
            case ("resnets", 0): return resnet(rest).map { "middle_block.0." + $0 }
            case ("attentions", 0): return "middle_block.1." + rest
            case ("resnets", 1): return resnet(rest).map { "middle_block.2." + $0 }
            default: return nil
            }
        }
        guard parts.count == 5, let b = Int(parts[1]), let l = Int(parts[3]) else { return nil }
        let rest = parts[4]
        switch (parts[0], parts[2]) {
        case ("down_blocks", "resnets"): return resnet(rest).map { "input_blocks.\(1 + b * (L + 1) + l).0.\($0)" }
        case ("down_blocks", "attentions"): return "input_blocks.\(1 + b * (L + 1) + l).1.\(rest)"
        case ("down_blocks", "downsamplers"):
            return rest.dropPrefix("conv.").map { "input_blocks.\(1 + b * (L + 1) + L).0.op.\($0)" }
        case ("up_blocks", "resnets"): return resnet(rest).map { "output_blocks.\(b * (L + 1) + l).0.\($0)" }
        case ("up_blocks", "attentions"): return "output_blocks.\(b * (L + 1) + l).1.\(rest)"
        case ("up_blocks", "upsamplers"):
            // After the block's last attention when it has attentions, else right after its resnet.
            return rest.dropPrefix("conv.").map { "output_blocks.\(b * (L + 1) + L).\(upBlockHasAttention(b) ? 2 : 1).conv.\($0)" }
        default: return nil
        }
    }

    /// The inverse of `CheckpointNames.vae`.
    static func ldmVAEName(_ name: String, levels: Int) -> String? {
        func shortcut(_ s: String) -> String { s.replacingFirst(CheckpointNames.vaeShortcut.diffusers, with: CheckpointNames.vaeShortcut.ldm) }
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 2 else { return nil }
        if ["quant_conv", "post_quant_conv"].contains(parts[0]) { return name }
        guard parts[0] == "encoder" || parts[0] == "decoder" else { return nil }
        let part = parts[0]
        let rest = parts.dropFirst().joined(separator: ".")
        if rest.hasPrefix("conv_in.") || rest.hasPrefix("conv_out.") { return name }
        if let r = rest.dropPrefix("conv_norm_out.") { return "\(part).norm_out.\(r)" }
        if let r = rest.dropPrefix("mid_block.resnets.0.") { return "\(part).mid.block_1.\(shortcut(r))" }
        if let r = rest.dropPrefix("mid_block.resnets.1.") { return "\(part).mid.block_2.\(shortcut(r))" }
        if let r = rest.dropPrefix("mid_block.attentions.0.") {
            return CheckpointNames.vaeAttentionParts.first { r.hasPrefix($0.value) }.map { "\(part).mid.attn_1.\($0.key)\(r.dropFirst($0.value.count))" }
        }
        guard parts.count >= 5, let i = Int(parts[2]) else { return nil }
        let tail = parts.dropFirst(3).joined(separator: ".")
        let block: String
        switch (part, parts[1]) {
        case ("encoder", "down_blocks"): block = "encoder.down.\(i)"
        case ("decoder", "up_blocks") where i < levels: block = "decoder.up.\(levels - 1 - i)"
        default: return nil
        }
        if let r = tail.dropPrefix("resnets.") { return "\(block).block.\(shortcut(r))" }
        if let r = tail.dropPrefix("downsamplers.0.") ?? tail.dropPrefix("upsamplers.0.") {
            return "\(block).\(part == "encoder" ? "downsample" : "upsample").\(r)"
        }
        return nil
    }
}

/// Writes a safetensors file one tensor at a time (a whole SD model in float32 would not fit
/// twice in memory): the header first, from the shapes, then each tensor's bytes as it is made.
enum SafeTensorsStream {
    static func write(to path: String, dtype: SafeTensorsDType, metadata: [String: String],
                      tensors: [(name: String, shape: [Int], values: () throws -> [Float])]) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for t in tensors {
            let size = t.shape.reduce(1, *) * dtype.byteSize
            header[t.name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // data aligned to 8 bytes

        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw SingleFileExportError(path: path, problem: "cannot create the file")
        }
        defer { try? handle.close() }
        var prefix = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix.append(contentsOf: $0) }
        try handle.write(contentsOf: prefix + json)
        for t in tensors {
            let values = try t.values()
            guard values.count == t.shape.reduce(1, *) else {
                throw SingleFileExportError(path: path, problem: "\(t.name): \(values.count) values for shape \(t.shape)")
            }
            switch dtype {
            case .f16: try values.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
            case .bf16: try values.map { bfloat16Bits($0).littleEndian }.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
            default: try values.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
            }
        }
        try handle.synchronize()
    }
}
