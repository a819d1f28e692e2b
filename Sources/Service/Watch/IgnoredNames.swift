/// Names in the inbox that are not part of a job. People copy folders with file managers, rsync,
/// browsers and editors; each leaves its own litter while it works.
public enum IgnoredNames {
    /// Partial uploads: the real file is still arriving under this name and will be renamed.
    /// A job folder holding one of these is not ready, whatever its age.
    static let partialSuffixes = [".part", ".partial", ".crdownload", ".download", ".filepart",
                                  ".opdownload", ".!sync", ".!qb", ".tmp", ".temp", ".uploading"]
    /// Editor swap and backup files, which come and go while someone edits a recipe.
    static let editorSuffixes = ["~", ".swp", ".swo", ".swx", ".bak", ".orig", ".kate-swp"]

    /// Hidden files (.DS_Store, ._resource forks, rsync's .name.XXXXXX temporaries), editor
    /// droppings, Windows/macOS metadata: never job inputs, and their changes do not count.
    public static func isIgnored(_ name: String) -> Bool {
        if name.hasPrefix(".") || name.hasPrefix("~$") { return true }
        if name.hasPrefix("#") && name.hasSuffix("#") { return true }     // emacs autosave
        if name == "4913" { return true }                                 // vim's write probe
        if name == "Thumbs.db" || name == "desktop.ini" { return true }
        let lower = name.lowercased()
        return editorSuffixes.contains { lower.hasSuffix($0) }
    }

    public static func isPartialUpload(_ name: String) -> Bool {
        let lower = name.lowercased()
        return partialSuffixes.contains { lower.hasSuffix($0) }
    }
}
