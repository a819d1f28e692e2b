#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Large engine buffers mapped straight from the kernel, 2 MiB-aligned and marked for
// transparent huge pages.
//
// A buffer the memory cache cannot hand out again is fresh pages: with 4 KiB pages every first
// touch of 4 KiB is a fault (the kernel's fault path, its page-list and cgroup accounting, then
// zeroing the page). Measured in a LoRA step at 512 px, those faults cost a fifth of the step
// (the same step with a 2 GiB cache, where nearly nothing faults: 9.3 s instead of 12.1 s, at
// 1.3x the peak memory). With 2 MiB pages the kernel takes one fault per 2 MiB and zeroes it in
// one go. Linux honours MADV_HUGEPAGE when transparent huge pages are `madvise` (Debian's
// default) or `always`; with `never`, or on other systems, these are ordinary pages.
//
// Only the buffer's whole 2 MiB pages are marked; its tail stays in 4 KiB pages, so a buffer
// holds no more memory than its size rounded up to 4 KiB. Hence the 4 MiB minimum: below it a
// buffer has at most one whole huge page.
enum HugePages {
    static let pageBytes = 2 << 20
    /// Buffers from this size on are mapped here (EngineMemory); smaller ones come from malloc.
    static let minimumBytes = 4 << 20

    /// `bytes` (a multiple of 4 KiB) of zeroed memory at a 2 MiB boundary.
    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        // Map a huge page more than asked, keep the aligned part, unmap the rest.
        let mappedBytes = bytes + pageBytes
        guard let mapped = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED else {
            fatalError("HugePages: mmap of \(mappedBytes) bytes failed (errno \(errno))")
        }
        let start = UInt(bitPattern: mapped)
        let aligned = (start + UInt(pageBytes) - 1) & ~UInt(pageBytes - 1)
        let head = Int(aligned - start), tail = mappedBytes - head - bytes
        if head > 0 { munmap(mapped, head) }
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(bytes)), tail) }
        let p = UnsafeMutableRawPointer(bitPattern: aligned)!
        #if os(Linux)
        // Advice only: where it is refused the buffer simply keeps small pages.
        _ = madvise(p, bytes / pageBytes * pageBytes, MADV_HUGEPAGE)
        #endif
        return p
    }

    static func free(_ p: UnsafeMutableRawPointer, bytes: Int) {
        munmap(p, bytes)
    }
}
