import Synchronization

/// A lock that suspends instead of blocking: held by the ingest writer from a group commit until
/// the ranker has counted it, and by the ranker while it reads back what leaves the windows. So
/// the rows read back never hold a record the windows have not counted yet (committed, not yet
/// recorded), which the windows would then subtract without ever having added. Waiters are
/// served first come, first served.
public final class IngestGate: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Suspends until the gate is free, then holds it. Pair with `unlock()`.
    public func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.held {
                    state.waiters.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    /// Frees the gate, or hands it to the first waiter.
    public func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            precondition(state.held, "IngestGate unlocked while free")
            if state.waiters.isEmpty {
                state.held = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
