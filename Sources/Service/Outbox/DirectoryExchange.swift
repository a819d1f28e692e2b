#if canImport(Glibc)
import Glibc
#endif

/// Swaps two directories in one step with renameat2(RENAME_EXCHANGE) (Linux 3.15+): readers of
/// the outbox see the run folder as it was or as it is, never a moment without it. glibc's
/// headers hide renameat2 from Swift, so it is looked up at run time; filesystems that do not
/// support the exchange (some network shares) fall back to two renames.
enum DirectoryExchange {
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    private static let renameExchange: UInt32 = 2     // RENAME_EXCHANGE from <linux/fs.h>

    private static let renameat2: RenameAt2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    /// Afterwards `a` holds what `b` held and `b` what `a` held. Returns false if unsupported.
    static func exchange(_ a: String, _ b: String) -> Bool {
        guard let renameat2 else { return false }
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, renameExchange) == 0
    }
}
