import Foundation

extension ServiceConfig {
    /// Whether jobs may run at `date` (local time): always without quiet hours, otherwise only
    /// inside the window.
    public func jobsMayRun(at date: Date = Date(), calendar: Calendar = .current) -> Bool {
        guard let quietHours else { return true }
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return quietHours.contains(minuteOfDay: (parts.hour ?? 0) * 60 + (parts.minute ?? 0))
    }
}
