import Foundation

/// glibc's allocator knobs, looked up by name (`malloc.h` is not in Swift's Glibc module); on
/// other C libraries they do nothing.
enum Malloc {
    /// `M_MMAP_THRESHOLD` of `mallopt`.
    private static let mmapThresholdParameter: Int32 = -3

    /// Blocks of 1 MiB and more get their own mappings, given back to the system when freed.
    ///
    /// By default glibc raises this threshold each time such a block is freed (up to 32 MiB), so
    /// after the first epoch an epoch's encoded answers and arrays (megabytes at 20,000 endpoints)
    /// are carved from the heap, where the long-lived objects around them keep the freed pages
    /// resident: idle at 20,000 endpoints that was 150 MB of RSS, 125 MB with the threshold fixed
    /// (`benchmarks/memory-under-ingest.sh`). Setting it also turns the raising off.
    static func keepLargeBlocksOutOfTheHeap() {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
            let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
            _ = mallopt(mmapThresholdParameter, 1 << 20)
        #endif
    }

    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
            return nil
        #endif
    }()

    /// `malloc_trim(0)`: free pages inside the heap go back to the system.
    static func returnFreedMemory() { _ = mallocTrim?(0) }
}
