// Where tensor memory comes from.
//
// Large buffers from malloc are fresh mmap'd pages: every first touch is a page fault and the
// kernel zeroes the page, which costs as much as a memory-bound kernel's own work. A training
// step allocates the same sizes every step (the same layers, the same shapes), so freed large
// buffers are kept, keyed by size, and handed out again, up to `cacheLimitBytes`. The
// counters give the benchmark its peak-memory figure.

import Synchronization

public enum EngineMemory {
    /// Buffers below this size go straight to malloc (it is fast for them).
    static let cachedMinimumBytes = 1 << 16

    struct State {
        // Addresses as integers: raw pointers are not Sendable into the mutex.
        var free: [Int: [UInt]] = [:]
        var cachedBytes = 0
        var cacheLimit = 512 << 20
        var liveBytes = 0
        var peakBytes = 0
    }
    static let state = Mutex(State())

    /// How many bytes of freed tensor buffers may be kept for reuse (default 512 MiB).
    /// Lowering it drops cached buffers beyond the new limit.
    public static var cacheLimitBytes: Int {
        get { state.withLock { $0.cacheLimit } }
        set {
            state.withLock { $0.cacheLimit = max(0, newValue) }
            trim(to: max(0, newValue))
        }
    }

    /// Bytes held by live tensors now, and the most ever held at once (since start or the
    /// last `resetPeak()`). Wrapped (memory-mapped) tensors are not counted.
    public static var liveBytes: Int { state.withLock { $0.liveBytes } }
    public static var peakBytes: Int { state.withLock { $0.peakBytes } }
    public static func resetPeak() { state.withLock { $0.peakBytes = $0.liveBytes } }
    public static var cachedBytes: Int { state.withLock { $0.cachedBytes } }

    /// Returns every cached buffer to the system.
    public static func trim(to limit: Int = 0) {
        let released: [UInt] = state.withLock { s in
            var out: [UInt] = []
            for size in s.free.keys.sorted(by: >) where s.cachedBytes > limit {
                while s.cachedBytes > limit, let p = s.free[size]?.popLast() {
                    out.append(p); s.cachedBytes -= size
                }
                if s.free[size]?.isEmpty == true { s.free[size] = nil }
            }
            return out
        }
        for p in released { UnsafeMutableRawPointer(bitPattern: p)!.deallocate() }
    }

    /// Rounds a request up to what is actually allocated (whole pages for cached sizes).
    static func blockSize(_ bytes: Int) -> Int {
        bytes < cachedMinimumBytes ? max(bytes, 16) : (bytes + 4095) & ~4095
    }

    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = blockSize(bytes)
        let reused: UInt? = state.withLock { s in
            s.liveBytes += size
            s.peakBytes = max(s.peakBytes, s.liveBytes)
            guard size >= cachedMinimumBytes, let p = s.free[size]?.popLast() else { return nil }
            s.cachedBytes -= size
            return p
        }
        if let reused { return UnsafeMutableRawPointer(bitPattern: reused)! }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    static func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let size = blockSize(bytes)
        let address = UInt(bitPattern: p)
        let kept: Bool = state.withLock { s in
            s.liveBytes -= size
            guard size >= cachedMinimumBytes, s.cachedBytes + size <= s.cacheLimit else { return false }
            s.free[size, default: []].append(address)
            s.cachedBytes += size
            return true
        }
        if !kept { p.deallocate() }
    }
}
