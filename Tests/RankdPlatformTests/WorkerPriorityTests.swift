import Foundation
import RankdPlatform
import Testing

/// `WorkerPriority.lower()` lowers the calling thread only, to `steps` below the base.
@Suite struct WorkerPriorityTests {
    struct Observed: Sendable {
        var before: Int32
        var after: Int32
        var sibling: Int32
    }

    @Test func lowersTheCallingThreadOnly() async throws {
        let base = WorkerPriority.base
        let observed: Observed = await withCheckedContinuation { continuation in
            Thread {
                let before = WorkerPriority.nice(ofThread: 0)
                // A thread started before the lowering, which reads its own value after it.
                let lowered = DispatchSemaphore(value: 0)
                let read = DispatchSemaphore(value: 0)
                let siblingNice = LockedBox<Int32>(0)
                Thread {
                    lowered.wait()
                    siblingNice.set(WorkerPriority.nice(ofThread: 0))
                    read.signal()
                }.start()
                WorkerPriority.lower()
                WorkerPriority.lower()  // idempotent: not 10 steps
                let after = WorkerPriority.nice(ofThread: 0)
                lowered.signal()
                read.wait()
                continuation.resume(returning: Observed(before: before, after: after, sibling: siblingNice.get()))
            }.start()
        }
        #expect(observed.after == min(19, base + WorkerPriority.steps))
        #expect(observed.sibling == observed.before, "another thread keeps its priority")
    }
}

/// A value shared between two threads (the test's only synchronisation is the semaphores).
final class LockedBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func set(_ newValue: T) { lock.withLock { value = newValue } }
    func get() -> T { lock.withLock { value } }
}
