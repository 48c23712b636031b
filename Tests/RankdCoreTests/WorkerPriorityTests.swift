import Foundation
import RankdCore
import Testing

/// `WorkerPriority.lower()` lowers the calling thread only, by `steps` below the process.
@Suite struct WorkerPriorityTests {
    /// Runs `body` on a new thread and returns what it returned, with the thread's id.
    func onNewThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> (tid: Int32, value: T) {
        await withCheckedContinuation { continuation in
            Thread {
                let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
                let tid = Int32(link.split(separator: "/").last ?? "") ?? -1
                continuation.resume(returning: (tid, body()))
            }.start()
        }
    }

    @Test func lowersTheCallingThreadOnly() async throws {
        // A thread that never lowers itself keeps the process's priority; run it again after
        // another thread lowered itself.
        let untouched = await onNewThread { WorkerPriority.nice(ofThread: 0) }
        #expect(untouched.value == WorkerPriority.base)
        let lowered = await onNewThread { () -> Int32 in
            WorkerPriority.lower()
            WorkerPriority.lower()  // idempotent: not 10 steps
            return WorkerPriority.nice(ofThread: 0)
        }
        #expect(lowered.tid > 0)
        #expect(lowered.value == min(19, WorkerPriority.base + WorkerPriority.steps))
        let after = await onNewThread { WorkerPriority.nice(ofThread: 0) }
        #expect(after.value == WorkerPriority.base, "other threads keep their priority")
    }
}
