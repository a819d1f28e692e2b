/// A job's name is its folder's name in the inbox. It becomes a path component in the outbox
/// and the state directory, so it must be one plain component: anything that could climb out
/// of those folders or confuse a terminal is refused.
public enum JobName {
    /// Why a folder name cannot be a job, or nil when it can.
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "the folder name is empty" }
        if name == "." || name == ".." || name.contains("/") { return "the folder name '\(name)' is not a plain folder name" }
        if name.hasPrefix(".") { return "hidden folders are not jobs" }
        if name.utf8.count > 200 { return "the folder name is longer than 200 bytes" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "the folder name contains control characters"
        }
        return nil
    }
}
