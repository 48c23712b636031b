import CJemalloc
import Foundation

/// The daemon's allocator: jemalloc, linked into the daemon (`CJemalloc`, libjemalloc-dev).
///
/// With glibc's malloc, what an epoch, a journal fold or an ingest batch frees stays resident in
/// the arena of the thread that freed it until that thread allocates again, and a trim gives back
/// only whole free pages; jemalloc gives freed pages back after a decay of seconds, and held less
/// under a telemetry flood side by side (docs/BENCHMARKS.md).
///
/// If something else serves malloc (another allocator preloaded, a binary linked without the
/// library first), `allocator` says so (the daemon logs it at start) and glibc's knobs are used.
public enum Malloc {
    public enum Allocator: Equatable, Sendable, CustomStringConvertible {
        case jemalloc(version: String)
        case other

        public var description: String {
            switch self {
            case .jemalloc(let version): "jemalloc \(version)"
            case .other: "not jemalloc (the C library's malloc, or a preloaded one)"
            }
        }
    }

    /// Which allocator serves `malloc` in this process, checked once: jemalloc if the bytes it
    /// counts as allocated by this thread grow by a block taken with `malloc`.
    public static let allocator: Allocator = detect()

    private static func detect() -> Allocator {
        guard let before = threadAllocatedBytes() else { return .other }
        let size = 1 << 16
        guard let block = malloc(size) else { return .other }
        // A call the compiler cannot see through, so the block is really allocated.
        let usable = malloc_usable_size(block)
        let after = threadAllocatedBytes()
        free(block)
        guard usable >= size, let after, after >= before + UInt64(size) else { return .other }
        var version: UnsafePointer<CChar>?
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        let status = mallctl("version", &version, &length, nil, 0)
        return .jemalloc(version: status == 0 ? version.map { String(cString: $0) } ?? "?" : "?")
    }

    private static func threadAllocatedBytes() -> UInt64? {
        var value: UInt64 = 0
        var length = MemoryLayout<UInt64>.size
        return mallctl("thread.allocated", &value, &length, nil, 0) == 0 ? value : nil
    }

    /// Checks the allocator and, if it is not jemalloc, sets glibc's knobs: blocks of 1 MiB and
    /// more get their own mappings, given back when freed (by default glibc raises that threshold
    /// each time such a block is freed, up to 32 MiB, and an epoch's encoded answers were then
    /// carved from the heap and kept resident).
    @discardableResult
    public static func prepare() -> Allocator {
        #if canImport(Glibc)
            if allocator == .other, let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
                let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
                _ = mallopt(mmapThresholdParameter, 1 << 20)
            }
        #endif
        return allocator
    }

    /// `M_MMAP_THRESHOLD` of glibc's `mallopt` (`malloc.h` is not in Swift's Glibc module).
    private static let mmapThresholdParameter: Int32 = -3

    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
            return nil
        #endif
    }()

    /// Gives freed pages back to the system now (after an epoch is published: its encoding and
    /// the epoch it replaced are tens of MB at 20,000 endpoints): jemalloc purges every arena
    /// (`arena.<MALLCTL_ARENAS_ALL>.purge`), glibc trims (`malloc_trim(0)`).
    public static func returnFreedMemory() {
        switch allocator {
        case .jemalloc: _ = mallctl("arena.4096.purge", nil, nil, nil, 0)
        case .other: _ = mallocTrim?(0)
        }
    }
}
