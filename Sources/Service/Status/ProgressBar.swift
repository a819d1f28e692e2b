import Foundation

/// `[#########-----------]  45%  step 450/1000` for terminals.
public enum ProgressBar {
    public static func render(step: Int, total: Int, width: Int = 24) -> String {
        guard total > 0 else { return "[" + String(repeating: "-", count: width) + "]" }
        let fraction = min(1, max(0, Double(step) / Double(total)))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let percent = Int((fraction * 100).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            + "] " + String(repeating: " ", count: max(0, 3 - String(percent).count)) + "\(percent)%"
    }

    /// "1h 05m", "4m 10s", "12s".
    public static func duration(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        if s >= 3600 { return "\(s / 3600)h \(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m \(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
