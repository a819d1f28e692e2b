import YAML

/// Subjects: who or what is learned, their prompts and folders, and the placeholders in templates.
extension RecipeDecoder {
    func subjectPath(_ top: DocumentReader.Section, _ index: Int) -> String {
        top.has("subjects") ? "subjects[\(index)]" : "subject"
    }

    func subjectMark(_ top: DocumentReader.Section, _ index: Int) -> YAMLMark {
        top["subjects"]?.items.flatMap { $0.indices.contains(index) ? $0[index].mark : nil } ?? top["subject"]?.mark ?? top.mark
    }

    mutating func decodeSubjects(_ top: DocumentReader.Section, method: Recipe.Method) -> [Recipe.Subject] {
        var nodes: [(node: YAMLNode?, path: String)] = []
        if top.has("subject"), top.has("subjects") {
            reader.report(at: top["subjects"]!.mark, "subjects", "give either `subject` (one) or `subjects` (a list), not both",
                          suggestion: "move the single subject into the list")
        }
        if let node = top["subjects"] {
            if let items = reader.list(top, "subjects", maxCount: limits.maxSubjects) {
                if items.isEmpty { reader.report(at: node.mark, "subjects", "the list is empty", suggestion: "add a subject, or use `subject:`") }
                nodes = items.enumerated().map { ($0.element, "subjects[\($0.offset)]") }
            }
        } else if let node = top["subject"] {
            nodes = [(node, "subject")]
        } else if method != .lora {
            reader.report(at: top.mark, "subject", "missing: the subject (its token\(method == .dreambooth ? " and class" : " and initializer"))",
                          suggestion: method == .dreambooth ? "add `subject: {token: sks, class: dog}`"
                                                            : "add `subject: {token: \"<my-cat>\", initializer: cat}`")
        }
        if nodes.isEmpty { nodes = [(nil, "subject")] }  // LoRA without a subject: a style or caption-file set

        let several = nodes.count > 1
        var subjects: [Recipe.Subject] = []
        for (node, path) in nodes {
            subjects.append(decodeSubject(node, path: path, method: method, several: several, parent: top.mark))
        }

        if method == .textualInversion, several {
            reader.report(at: top["subjects"]!.mark, "subjects", "textual inversion learns one embedding per job",
                          suggestion: "make one job folder per subject")
        }
        if several {
            var folders: [String: Int] = [:], tokens: [String: Int] = [:]
            for (i, subject) in subjects.enumerated() {
                let mark = subjectMark(top, i)
                if let j = folders[subject.folder], !reported("subjects[\(i)].folder") {
                    reader.report(at: mark, "subjects[\(i)].folder", "the folder `\(subject.folder)` is also used by subjects[\(j)]",
                                  suggestion: "give each subject its own folder")
                }
                if !reported("subjects[\(i)].folder") { folders[subject.folder] = folders[subject.folder] ?? i }
                if let token = subject.token {
                    if let j = tokens[token] {
                        reader.report(at: mark, "subjects[\(i)].token", "the token `\(token)` is also used by subjects[\(j)]",
                                      suggestion: "each subject needs its own token")
                    }
                    tokens[token] = tokens[token] ?? i
                }
            }
        }
        return subjects
    }

    mutating func decodeSubject(_ node: YAMLNode?, path: String, method: Recipe.Method, several: Bool, parent: YAMLMark) -> Recipe.Subject {
        let section = node.flatMap { reader.section($0, path: path, keys: RecipeSchema.subject, hints: RecipeSchema.hints(for: "subject")) }
        let mark = node?.mark ?? parent
        func field(_ key: String) -> String { "\(path).\(key)" }

        var token: String?, className: String?, initializer: String?
        var vectors = 1
        var instancePrompt: String?, classPrompt: String?
        var folder = ".", classFolder: String?
        if let s = section {
            token = reader.string(s, "token", maxLength: 64)
            if let t = token, let n = s["token"], !isOneWord(t) {
                reader.report(at: n.mark, field("token"), "a token is one word without spaces or braces", suggestion: "e.g. `sks` or `<my-cat>`")
                token = nil
            }
            className = reader.string(s, "class", maxLength: 100)
            if let n = s["initializer"] {
                if method != .textualInversion {
                    reader.report(at: n.mark, field("initializer"), "`initializer` is used by textual_inversion only", suggestion: "remove it")
                } else if let i = reader.string(s, "initializer", maxLength: 64) {
                    if isOneWord(i) { initializer = i } else {
                        reader.report(at: n.mark, field("initializer"), "the initializer is one existing word", suggestion: "e.g. `cat`, `toy`, `painting`")
                    }
                }
            }
            if let n = s["vectors"] {
                if method != .textualInversion {
                    reader.report(at: n.mark, field("vectors"), "`vectors` is used by textual_inversion only", suggestion: "remove it")
                } else {
                    vectors = reader.int(s, "vectors", in: 1...16) ?? 1
                }
            }
            instancePrompt = reader.string(s, "instance_prompt")
            classPrompt = reader.string(s, "class_prompt")
            if let n = s["folder"], let f = reader.string(s, "folder", maxLength: 255) {
                folder = checkedRelativePath(f, n, field("folder")) ?? folder
            }
            if let n = s["class_folder"], let f = reader.string(s, "class_folder", maxLength: 255) {
                classFolder = checkedRelativePath(f, n, field("class_folder"))
            }
            if several, !s.has("folder") {
                reader.report(at: mark, field("folder"), "missing: with several subjects each needs its own folder of images",
                              suggestion: "add `folder: \(token ?? "photos")` and put its photos there")
            } else if several, folder == ".", !reported(field("folder")) {
                reader.report(at: s["folder"]!.mark, field("folder"), "with several subjects each needs its own subfolder, not the job folder",
                              suggestion: "move each subject's photos into a subfolder")
            }
        }

        switch method {
        case .dreambooth:
            if section != nil, token == nil, section?.has("token") == false {
                reader.report(at: mark, field("token"), "missing: DreamBooth binds the subject to a rare token",
                              suggestion: "add `token: sks`, a rare word the model does not know")
            }
            if section != nil, className == nil, section?.has("class") == false {
                reader.report(at: mark, field("class"), "missing: DreamBooth needs the subject's class noun",
                              suggestion: "add e.g. `class: person`, `class: dog` or `class: toy`")
            }
        case .textualInversion:
            if section != nil, token == nil, section?.has("token") == false {
                reader.report(at: mark, field("token"), "missing: the new word to learn", suggestion: "add `token: \"<my-cat>\"`")
            }
            if section != nil, initializer == nil, section?.has("initializer") == false {
                reader.report(at: mark, field("initializer"), "missing: the existing word the new embedding starts from",
                              suggestion: "add `initializer: cat`, an existing word close to the subject")
            }
        case .lora:
            break
        }

        let prompt = instancePrompt ?? Recipe.defaultInstancePrompt(method: method, token: token, className: className)
        // A missing subject or a bad token was reported already; a missing prompt would only repeat it.
        if prompt == nil, section != nil || (node == nil && method == .lora), section?.has("token") != true {
            reader.report(at: mark, field("instance_prompt"), "missing: with no token, give the caption for the images",
                          suggestion: "add `token: sks` or `instance_prompt: \"a watercolor landscape\"`")
        }
        let subject = Recipe.Subject(token: token, className: className, initializer: initializer, vectors: vectors,
                                     instancePrompt: prompt ?? "", classPrompt: classPrompt ?? Recipe.defaultClassPrompt,
                                     folder: folder, classFolder: classFolder ?? (folder == "." ? "class" : folder + "/class"))
        if let s = section {
            if let n = s["instance_prompt"], let p = instancePrompt {
                checkPlaceholders(p, n, field("instance_prompt"), allowed: ["token", "class"], subjects: [subject])
                if method == .textualInversion, let t = token, !p.contains("{token}"), !p.contains(t) {
                    reader.report(at: n.mark, field("instance_prompt"), "the prompt must contain the token being learned",
                                  suggestion: "e.g. \"a photo of {token}\"")
                }
            }
            if let n = s["class_prompt"], let p = classPrompt {
                checkPlaceholders(p, n, field("class_prompt"), allowed: ["class"], subjects: [subject])
            }
        }
        return subject
    }

    func isOneWord(_ s: String) -> Bool {
        !s.isEmpty && !s.contains { $0.isWhitespace || $0 == "{" || $0 == "}" || $0 == "," }
    }

    /// A folder inside the job folder: relative, no `..`, no hidden components. Returns it
    /// normalised (`./a/` → `a`, `./` → `.`).
    mutating func checkedRelativePath(_ path: String, _ node: YAMLNode, _ field: String) -> String? {
        if path.hasPrefix("/") || path.hasPrefix("~") {
            reader.report(at: node.mark, field, "`\(path)` is outside the job folder", suggestion: "give a folder relative to the job folder")
            return nil
        }
        let parts = path.split(separator: "/").filter { $0 != "." }
        if parts.contains("..") {
            reader.report(at: node.mark, field, "`\(path)` leaves the job folder", suggestion: "give a folder inside the job folder")
            return nil
        }
        if parts.contains(where: { $0.hasPrefix(".") }) {
            reader.report(at: node.mark, field, "`\(path)` names a hidden folder, which the service ignores", suggestion: "rename it without the leading dot")
            return nil
        }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// `{name}` placeholders in a template must be known ones and refer to something that exists.
    /// A template applied per subject (`perSubject`, e.g. the caption template) fills in each
    /// subject's own token; one for the whole run (sample prompts) needs exactly one subject.
    mutating func checkPlaceholders(_ template: String, _ node: YAMLNode, _ field: String, allowed: [String],
                                            subjects: [Recipe.Subject], perSubject: Bool = true) {
        for name in Self.placeholders(in: template) {
            guard allowed.contains(name) else {
                reader.report(at: node.mark, field, "unknown placeholder {\(name)}",
                              suggestion: "placeholders here: " + allowed.map { "{\($0)}" }.joined(separator: ", "))
                continue
            }
            if !perSubject, subjects.count != 1, name == "token" || name == "class" {
                reader.report(at: node.mark, field, "{\(name)} is ambiguous with several subjects", suggestion: "write the token or class itself")
            } else if name == "token", subjects.contains(where: { $0.token == nil }) {
                reader.report(at: node.mark, field, "{token} is used but the subject has no token", suggestion: "add `token:` to the subject")
            } else if name == "class", subjects.contains(where: { $0.className == nil }) {
                reader.report(at: node.mark, field, "{class} is used but the subject has no class", suggestion: "add `class:` to the subject")
            }
        }
    }

    static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}
