// Where tensor memory comes from.
//
// Large buffers from malloc are fresh mmap'd pages: every first touch is a page fault and the
// kernel zeroes the page, which costs as much as a memory-bound kernel's own work. A training
// step allocates the same sizes every step (the same layers, the same shapes), so freed large
// buffers are kept, keyed by size, and handed out again. The counters give the benchmark its
// peak-memory figure.
//
// How much is kept: live + cached bytes stay under the high-water mark of live bytes plus
// `cacheLimitBytes`. That is the bound a fixed cache of `cacheLimitBytes` gives at the moment
// memory peaks, but below the peak the cache may hold more: in backward, the activations freed
// as it goes are what the gradients of the same shapes allocate next, and a step's forward
// finds the previous step's buffers. (With a fixed 512 MiB cache, page faults and the kernel's
// page zeroing were 8% of a LoRA step's profile at 512 px.) A miss that would cross the bound frees
// cached buffers first, largest first. The allowance is 256 MiB: at 512 px it keeps a LoRA step's
// time and holds the VAE decode's peak to 1.1 GiB (1.3 GiB with 512 MiB).
//
// Misses still fault: buffers of 4 MiB and more therefore come from `HugePages`, so a fault
// maps 2 MiB at once instead of 4 KiB (see there).

import Synchronization

public enum EngineMemory {
    /// Buffers below this size go straight to malloc (it is fast for them).
    static let cachedMinimumBytes = 1 << 16

    /// A buffer by address and allocated size: what it takes to give it back.
    typealias Block = (address: UInt, size: Int)

    struct State {
        // Addresses as integers: raw pointers are not Sendable into the mutex.
        var free: [Int: [UInt]] = [:]
        var cachedBytes = 0
        var cacheLimit = 256 << 20
        var liveBytes = 0
        var peakBytes = 0
        /// The most live bytes ever (never reset): with `cacheLimit`, the bound on live + cached.
        var highWater = 0

        /// Cached buffers to free so that live + cached stays within the bound.
        mutating func evictions() -> [Block] {
            var out: [Block] = []
            let bound = highWater + cacheLimit
            guard liveBytes + cachedBytes > bound else { return out }
            for size in free.keys.sorted(by: >) {
                while liveBytes + cachedBytes > bound, let p = free[size]?.popLast() {
                    out.append((p, size)); cachedBytes -= size
                }
                if free[size]?.isEmpty == true { free[size] = nil }
                if liveBytes + cachedBytes <= bound { break }
            }
            return out
        }
    }
    static let state = Mutex(State())

    /// How many bytes of freed tensor buffers may be kept for reuse beyond the high-water mark
    /// of live bytes (default 256 MiB; see the file's header). Lowering it drops cached buffers
    /// beyond the new limit.
    public static var cacheLimitBytes: Int {
        get { state.withLock { $0.cacheLimit } }
        set {
            let evicted = state.withLock { s in
                s.cacheLimit = max(0, newValue)
                return s.evictions()
            }
            for block in evicted { free(block.address, size: block.size) }
        }
    }

    /// Bytes held by live tensors now, and the most ever held at once (since start or the
    /// last `resetPeak()`). Wrapped (memory-mapped) tensors are not counted.
    public static var liveBytes: Int { state.withLock { $0.liveBytes } }
    public static var peakBytes: Int { state.withLock { $0.peakBytes } }
    public static func resetPeak() { state.withLock { $0.peakBytes = $0.liveBytes } }
    public static var cachedBytes: Int { state.withLock { $0.cachedBytes } }

    /// Rounds a request up to what is actually allocated (whole pages for cached sizes).
    static func blockSize(_ bytes: Int) -> Int {
        bytes < cachedMinimumBytes ? max(bytes, 16) : (bytes + 4095) & ~4095
    }

    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = blockSize(bytes)
        let (reused, evicted): (UInt?, [Block]) = state.withLock { s in
            s.liveBytes += size
            s.peakBytes = max(s.peakBytes, s.liveBytes)
            s.highWater = max(s.highWater, s.liveBytes)
            if size >= cachedMinimumBytes, let p = s.free[size]?.popLast() {
                s.cachedBytes -= size
                if s.free[size]?.isEmpty == true { s.free[size] = nil }
                return (p, [])
            }
            return (nil, s.evictions())
        }
        for block in evicted { free(block.address, size: block.size) }
        if let reused { return UnsafeMutableRawPointer(bitPattern: reused)! }
        if size >= HugePages.minimumBytes { return HugePages.allocate(bytes: size) }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    static func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let size = blockSize(bytes)
        let address = UInt(bitPattern: p)
        let kept: Bool = state.withLock { s in
            s.liveBytes -= size
            guard size >= cachedMinimumBytes, s.liveBytes + s.cachedBytes + size <= s.highWater + s.cacheLimit else { return false }
            s.free[size, default: []].append(address)
            s.cachedBytes += size
            return true
        }
        if !kept { free(address, size: size) }
    }

    /// Gives a block back to the system, the way `allocate` got it.
    private static func free(_ address: UInt, size: Int) {
        let p = UnsafeMutableRawPointer(bitPattern: address)!
        if size >= HugePages.minimumBytes { HugePages.free(p, bytes: size) } else { p.deallocate() }
    }
}
