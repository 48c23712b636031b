import Foundation
import Testing

import RankdPlatform

/// The daemon links jemalloc (`CJemalloc`): it must be what serves `malloc` in the whole process,
/// and a purge must give freed pages back at once.
@Suite struct AllocatorTests {
    @Test func jemallocServesMallocInTheProcess() {
        guard case .jemalloc(let version) = Malloc.allocator else {
            Issue.record("malloc is \(Malloc.allocator): the daemon must link libjemalloc before libc")
            return
        }
        #expect(version.hasPrefix("5."), "jemalloc version \(version)")
    }

    @Test func returningFreedMemoryLowersResidentMemory() throws {
        // 32 MiB in 64 KiB blocks, each touched, then freed: jemalloc keeps them resident (dirty)
        // for its decay time, unless purged.
        let blockSize = 64 << 10
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<512 {
            let block = try #require(malloc(blockSize))
            memset(block, 0x5a, blockSize)
            blocks.append(block)
        }
        let held = try Self.residentBytes()
        for block in blocks { free(block) }
        Malloc.returnFreedMemory()
        let after = try Self.residentBytes()
        #expect(held - after >= 16 << 20, "resident \(held >> 20) MiB with the blocks, \(after >> 20) MiB after freeing and purging")
    }

    private static func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return try #require(Int(statm[1])) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
