import Dispatch

/// How many threads the non-GEMM kernels use. Set once at start-up from the service config
/// (`threads`); defaults to every core. OpenBLAS has its own pool, sized by `setBLASThreads`.
public enum EngineThreads {
    nonisolated(unsafe) private static var configured: Int = max(1, System.coreCount)
    /// Set by `withCount` for the work inside it only (task-local, so other work running at
    /// the same time keeps the configured count).
    @TaskLocal @usableFromInline static var override: Int?

    public static var count: Int {
        get { override ?? configured }
        set { configured = max(1, newValue) }
    }

    /// Runs `body` with `count` engine threads, leaving the configured count to everything else
    /// (tests compare thread counts while other tests run).
    public static func withCount<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
        try $override.withValue(max(1, count)) { try body() }
    }
}

enum System {
    static var coreCount: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(chunkStart..<chunkEnd)` over `0..<count` split into contiguous chunks, one per
/// thread, in parallel. Work below `minimumPerThread` items per thread runs inline: spawning
/// costs more than it saves on small tensors.
@inlinable
public func parallelChunks(_ count: Int, minimumPerThread: Int = 4096, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let threads = min(EngineThreads.count, max(1, count / max(1, minimumPerThread)))
    if threads <= 1 { body(0..<count); return }
    let per = (count + threads - 1) / threads
    // The kernels' closures capture raw pointers, which are not Sendable. Each chunk writes a
    // disjoint range, so sharing them across threads is safe by construction.
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let start = t * per
            let end = min(count, start + per)
            if start < end { body(start..<end) }
        }
    }
}

/// Runs `body(i)` for every i in `0..<count`, spread over the engine's threads. For loops
/// whose iterations are each large (a row of a GEMM, a head of attention).
@inlinable
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    guard count > 0 else { return }
    if count == 1 || EngineThreads.count == 1 { for i in 0..<count { body(i) }; return }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: count) { body($0) }
    }
}

/// How many parts `parallelPartitions` splits `count` items into: one per thread, fewer when
/// a part would hold under `minimumPerThread` items. Kernels that reduce (bias gradients, loss
/// sums) allocate one partial result per part and add them up after.
@inlinable
public func partitionCount(_ count: Int, minimumPerThread: Int = 4096) -> Int {
    max(1, min(EngineThreads.count, count / max(1, minimumPerThread)))
}

/// Runs `body(part, range)` for `parts` contiguous ranges covering `0..<count`, in parallel.
/// `part` indexes a per-part scratch buffer, so reductions need no locks and stay deterministic
/// (the parts are always the same for the same count and thread setting).
@inlinable
public func parallelPartitions(_ count: Int, parts: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
    guard count > 0 else { return }
    let parts = max(1, min(parts, count))
    let per = (count + parts - 1) / parts
    if parts == 1 { body(0, 0..<count); return }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let start = p * per
            let end = min(count, start + per)
            if start < end { body(p, start..<end) }
        }
    }
}
