#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import YAML

extension ServiceConfig {
    /// Where `serve` looks without `--config`.
    public static let defaultPath = "/etc/dropbooth/config.yaml"

    /// Reads and validates the service config. Relative paths are resolved against the folder the
    /// config file is in. Every problem is reported, as for recipes. The file may be a symlink
    /// (configuration management likes them); it is the administrator's, not a share user's.
    public static func load(path: String) throws(ConfigProblems) -> ServiceConfig {
        let root: YAMLNode
        do { root = try YAMLFile.load(path: path, limits: YAMLLimits(maxBytes: 1 << 20), followSymlinks: true) }
        catch { throw ConfigProblems(file: path, error) }
        let absolute = path.hasPrefix("/") ? path : currentDirectory() + "/" + path
        let folder = String(absolute[..<(absolute.lastIndex(of: "/") ?? absolute.startIndex)])
        return try decode(root, file: path, baseDirectory: folder.isEmpty ? "/" : folder)
    }

    /// Validates config text; relative paths resolve against `baseDirectory`.
    public static func parse(_ text: String, file: String = "config.yaml", baseDirectory: String) throws(ConfigProblems) -> ServiceConfig {
        let root: YAMLNode
        do { root = try YAMLParser.parse(text, limits: YAMLLimits(maxBytes: 1 << 20)) }
        catch { throw ConfigProblems(file: file, error) }
        return try decode(root, file: file, baseDirectory: baseDirectory)
    }

    /// Registry names are what recipes write: letters, digits, `.`, `_`, `-`, not starting with a dot.
    public static func isValidModelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != ".", name.count <= 100 else { return false }
        return name.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    static let keys = ["inbox", "outbox", "state_directory", "models", "limits", "threads", "settle_seconds",
                       "rescan_seconds", "quiet_hours"]
    static let limitKeys = ["max_steps", "max_resolution", "min_images", "max_images", "max_image_pixels", "max_image_bytes",
                            "max_recipe_bytes", "max_batch_size", "max_class_images", "max_subjects", "max_sample_images",
                            "max_sample_steps"]

    static func decode(_ root: YAMLNode, file: String, baseDirectory: String) throws(ConfigProblems) -> ServiceConfig {
        var reader = DocumentReader(file: file)
        var config = ServiceConfig(inbox: "", outbox: "", stateDirectory: "")
        if root["method"] != nil, root["inbox"] == nil {
            reader.report(at: root.mark, "", "this looks like a recipe, not the service config",
                          suggestion: "see config/config.example.yaml for the service config's keys")
            throw ConfigProblems(reader.problems)
        }
        guard let top = reader.section(root, path: "", keys: keys) else { throw ConfigProblems(reader.problems) }

        func path(_ key: String, _ reader: inout DocumentReader) -> String? {
            guard let text = reader.string(top, key, maxLength: 4096) else {
                reader.require(top, key, key == "state_directory" ? "the state directory" : "the \(key) folder")
                return nil
            }
            return resolve(text, against: baseDirectory)
        }
        config.inbox = path("inbox", &reader) ?? ""
        config.outbox = path("outbox", &reader) ?? ""
        config.stateDirectory = path("state_directory", &reader) ?? ""
        checkSeparateFolders(config, top, &reader)

        if let node = top["models"], !node.isNull {
            if let pairs = node.pairs {
                for pair in pairs {
                    let field = "models.\(pair.name)"
                    guard isValidModelName(pair.name) else {
                        reader.report(at: pair.key.mark, field, "`\(pair.name)` is not a model name",
                                      suggestion: "use letters, digits, `.`, `_`, `-`, e.g. `sd15`")
                        continue
                    }
                    guard let file = reader.string(pair.value, field, maxLength: 4096) else { continue }
                    let lower = file.lowercased()
                    if lower.hasSuffix(".ckpt") || lower.hasSuffix(".pt") || lower.hasSuffix(".pth") || lower.hasSuffix(".bin") {
                        reader.report(at: pair.value.mark, field, "pickle-based checkpoints can run code when loaded and are refused",
                                      suggestion: "convert it to .safetensors or a diffusers folder")
                        continue
                    }
                    config.models[pair.name] = resolve(file, against: baseDirectory)
                }
            } else {
                reader.report(node.typeError("a mapping of model names to paths (`sd15: /srv/models/sd15`)"), "models")
            }
        }

        if let node = top["limits"], let s = reader.section(node, path: "limits", keys: limitKeys) {
            var l = config.limits
            l.maxSteps = reader.int(s, "max_steps", in: 1...10_000_000) ?? l.maxSteps
            l.maxResolution = reader.int(s, "max_resolution", in: 64...8192) ?? l.maxResolution
            l.minImages = reader.int(s, "min_images", in: 1...100_000) ?? l.minImages
            l.maxImages = reader.int(s, "max_images", in: 1...100_000) ?? l.maxImages
            l.maxImagePixels = reader.int(s, "max_image_pixels", in: 1...1_000_000_000) ?? l.maxImagePixels
            l.maxImageBytes = reader.int(s, "max_image_bytes", in: 1...(4 << 30)) ?? l.maxImageBytes
            l.maxRecipeBytes = reader.int(s, "max_recipe_bytes", in: 256...(16 << 20)) ?? l.maxRecipeBytes
            l.maxBatchSize = reader.int(s, "max_batch_size", in: 1...1024) ?? l.maxBatchSize
            l.maxClassImages = reader.int(s, "max_class_images", in: 1...100_000) ?? l.maxClassImages
            l.maxSubjects = reader.int(s, "max_subjects", in: 1...1000) ?? l.maxSubjects
            l.maxSampleImages = reader.int(s, "max_sample_images", in: 1...10_000) ?? l.maxSampleImages
            l.maxSampleSteps = reader.int(s, "max_sample_steps", in: 1...10_000) ?? l.maxSampleSteps
            if l.minImages > l.maxImages, let n = s["min_images"] {
                reader.report(at: n.mark, "limits.min_images", "\(l.minImages) is more than max_images (\(l.maxImages))")
            }
            config.limits = l
        }
        config.threads = reader.int(top, "threads", in: 0...4096, note: "0 uses every core") ?? config.threads
        config.settleSeconds = reader.double(top, "settle_seconds", in: 0...86_400) ?? config.settleSeconds
        config.rescanSeconds = reader.double(top, "rescan_seconds", in: 1...86_400) ?? config.rescanSeconds
        if let node = top["quiet_hours"], !node.isNull, let text = reader.string(top, "quiet_hours", maxLength: 40) {
            if let window = QuietHours(parsing: text) {
                config.quietHours = window
            } else {
                reader.report(at: node.mark, "quiet_hours", "expected a daily window `HH:MM-HH:MM`, found \"\(text)\"",
                              suggestion: "e.g. \"22:00-07:00\" (may wrap past midnight); quote it")
            }
        }
        guard reader.problems.isEmpty else { throw ConfigProblems(reader.problems.sortedByPosition()) }
        return config
    }

    /// The service must never read its own output as input, nor keep its state where users write.
    private static func checkSeparateFolders(_ c: ServiceConfig, _ top: DocumentReader.Section, _ reader: inout DocumentReader) {
        func inside(_ a: String, _ b: String) -> Bool { a == b || a.hasPrefix(b.hasSuffix("/") ? b : b + "/") }
        guard !c.inbox.isEmpty else { return }
        for (key, folder) in [("outbox", c.outbox), ("state_directory", c.stateDirectory)] where !folder.isEmpty {
            if inside(folder, c.inbox) || inside(c.inbox, folder) {
                reader.report(at: top[key]!.mark, key, "`\(folder)` overlaps the inbox `\(c.inbox)`",
                              suggestion: "keep inbox, outbox and state directory in separate folders")
            }
        }
    }

    /// An absolute, lexically normalised path (`a/./b/../c` → `a/c`); relative paths start at `base`.
    static func resolve(_ path: String, against base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ServiceConfig.QuietHours {
    /// "22:00-07:00" (local time); start and end must differ.
    public init?(parsing text: String) {
        let halves = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }
        guard halves.count == 2, let start = Self.minutes(halves[0]), let end = Self.minutes(halves[1]), start != end else { return nil }
        self.init(startMinute: start, endMinute: end)
    }

    private static func minutes(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 2, (1...2).contains(parts[0].count),
              let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }
}

private extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
