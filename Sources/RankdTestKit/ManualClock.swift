import RankdCore
import Synchronization

/// A clock that moves only when a test moves it. Tasks sleeping on it wake when `advance` or
/// `set` moves it to their deadline, so a test of a service loop drives the loop by hand:
/// `await clock.waitForSleepers(n)`, then `clock.advance(seconds:)`.
public final class ManualClock: WallClock {
    private struct Sleeper {
        var deadline: Timestamp
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Timestamp
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
        /// Sleeps cancelled before they were registered.
        var cancelled: Set<UInt64> = []
    }

    private let state: Mutex<State>

    /// Starts at 2026-01-01T00:00:00Z unless told otherwise.
    public init(_ start: Timestamp = Timestamp(secondsSince1970: 1_767_225_600)) {
        state = Mutex(State(now: start))
    }

    public func now() -> Timestamp { state.withLock { $0.now } }

    public func advance(seconds: Double) {
        move { $0 = $0.adding(seconds: seconds) }
    }

    public func set(_ time: Timestamp) {
        move { $0 = time }
    }

    /// Tasks sleeping on this clock now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends (yielding, for at most `timeoutSeconds` of real time) until at least `count`
    /// tasks sleep on this clock, so an advance reaches them. Returns false on the timeout.
    @discardableResult
    public func waitForSleepers(_ count: Int, timeoutSeconds: Double = 10) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        while sleeperCount < count {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }

    public func sleep(until deadline: Timestamp) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                if let sleeper = state.sleepers.removeValue(forKey: id) { return sleeper }
                state.cancelled.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    private func move(_ change: (inout Timestamp) -> Void) {
        let due = state.withLock { state -> [Sleeper] in
            change(&state.now)
            let now = state.now
            let ids = state.sleepers.filter { $0.value.deadline <= now }.keys
            return ids.compactMap { state.sleepers.removeValue(forKey: $0) }
        }
        for sleeper in due.sorted(by: { $0.deadline < $1.deadline }) { sleeper.continuation.resume() }
    }
}
