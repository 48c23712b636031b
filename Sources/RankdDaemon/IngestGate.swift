import Synchronization

/// A shared/exclusive lock that suspends instead of blocking. The ingest writer holds it shared
/// for each group, from its commit until the ranker has counted it (two groups overlap: one is
/// recorded while the next commits); the ranker holds it exclusive while it reads back what leaves
/// the windows. So the rows read back never hold a record the windows have not counted yet
/// (committed, not yet recorded), which the windows would then subtract without ever having added.
/// Waiters are served first come, first served: an exclusive waiter holds back later shared ones.
public final class IngestGate: Sendable {
    private enum Kind {
        case shared
        case exclusive
    }

    private struct State {
        var sharedHolders = 0
        var exclusiveHeld = false
        var waiters: [(kind: Kind, continuation: CheckedContinuation<Void, Never>)] = []

        /// Takes the lock for `kind` now if nothing holds it against `kind` and nobody waits.
        mutating func tryTake(_ kind: Kind) -> Bool {
            guard waiters.isEmpty, !exclusiveHeld else { return false }
            switch kind {
            case .shared:
                sharedHolders += 1
                return true
            case .exclusive:
                guard sharedHolders == 0 else { return false }
                exclusiveHeld = true
                return true
            }
        }

        /// The waiters to wake now, taken off the queue in order: the first exclusive one once
        /// the lock is free, or every shared one up to the next exclusive one.
        mutating func admit() -> [CheckedContinuation<Void, Never>] {
            var admitted: [CheckedContinuation<Void, Never>] = []
            while let first = waiters.first, !exclusiveHeld {
                switch first.kind {
                case .shared:
                    sharedHolders += 1
                case .exclusive:
                    guard sharedHolders == 0 else { return admitted }
                    exclusiveHeld = true
                }
                admitted.append(waiters.removeFirst().continuation)
            }
            return admitted
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Takers waiting now (tests wait for a waiter to queue instead of sleeping).
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Suspends (yielding) until `count` takers wait.
    func waitForWaiters(_ count: Int) async {
        while waiterCount < count { await Task.yield() }
    }

    /// Suspends until no one else holds the gate, then holds it alone. Pair with `unlock()`.
    public func lock() async { await take(.exclusive) }

    /// Frees the gate held by `lock()`, waking whoever waits first.
    public func unlock() {
        let admitted = state.withLock { state in
            precondition(state.exclusiveHeld, "IngestGate unlocked while not held exclusively")
            state.exclusiveHeld = false
            return state.admit()
        }
        for continuation in admitted { continuation.resume() }
    }

    /// Suspends until no one holds the gate exclusively and no exclusive waiter came first, then
    /// holds it shared. Pair with `unlockShared()`.
    public func lockShared() async { await take(.shared) }

    /// Frees one shared hold taken by `lockShared()`.
    public func unlockShared() {
        let admitted = state.withLock { state in
            precondition(state.sharedHolders > 0, "IngestGate shared unlock while not held shared")
            state.sharedHolders -= 1
            return state.admit()
        }
        for continuation in admitted { continuation.resume() }
    }

    private func take(_ kind: Kind) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.tryTake(kind) { return true }
                state.waiters.append((kind, continuation))
                return false
            }
            if acquired { continuation.resume() }
        }
    }
}
