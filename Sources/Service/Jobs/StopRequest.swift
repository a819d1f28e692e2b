#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// In the `run` child: whether it should checkpoint and exit now. Set by SIGTERM/SIGINT (the
/// daemon forwards systemd's stop, or pauses the job outside quiet hours), and also when the
/// daemon that started us is gone (killed with SIGKILL: we are re-parented) so that an orphan
/// never races the restarted daemon's new child on the same run.
public enum StopRequest {
    private static let flag = Atomic<Bool>(false)
    private static let originalParent = Atomic<Int32>(0)

    public static func install() {
        originalParent.store(getppid(), ordering: .relaxed)
        signal(SIGTERM) { _ in StopRequest.flag.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in StopRequest.flag.store(true, ordering: .relaxed) }
    }

    public static var isRequested: Bool {
        if flag.load(ordering: .relaxed) { return true }
        let parent = originalParent.load(ordering: .relaxed)
        return parent > 1 && getppid() != parent
    }

    /// For tests and for callers that decide to stop on their own.
    public static func request() { flag.store(true, ordering: .relaxed) }
}
