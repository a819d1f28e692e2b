/// What a name in a job folder is, judged by the name alone, before any byte is read.
/// The inbox watcher ignores the same names while waiting for a folder to settle.
enum JobFileName {
    case hidden          // .DS_Store, ._photo.jpg (macOS AppleDouble), .nfs…, .git
    case editorTemp      // photo.jpg~, .photo.jpg.swp, #notes#, ~$doc
    case partialUpload   // photo.jpg.part (Firefox), .crdownload (Chrome), .tmp, .partial
    case recipe          // recipe.yaml / recipe.yml
    case caption         // *.txt: read with the image it belongs to
    case candidate       // anything else: looked at, by its bytes

    init(_ name: String) {
        let lower = name.lowercased()
        if name.hasPrefix(".") { self = .hidden; return }
        if name.hasSuffix("~") || lower.hasSuffix(".swp") || lower.hasSuffix(".swx")
            || (name.hasPrefix("#") && name.hasSuffix("#")) || name.hasPrefix("~$") {
            self = .editorTemp; return
        }
        for suffix in [".part", ".crdownload", ".tmp", ".partial", ".download", ".filepart", ".!ut"] where lower.hasSuffix(suffix) {
            self = .partialUpload; return
        }
        if lower == "recipe.yaml" || lower == "recipe.yml" { self = .recipe; return }
        if lower.hasSuffix(".txt") { self = .caption; return }
        self = .candidate
    }

    /// Caption file names for an image, in the order tried: `photo.jpg.txt`, then `photo.txt`.
    static func captionNames(for imageName: String) -> [String] {
        var names = [imageName + ".txt"]
        if let dot = imageName.lastIndex(of: "."), dot != imageName.startIndex {
            names.append(String(imageName[..<dot]) + ".txt")
        }
        return names
    }
}
