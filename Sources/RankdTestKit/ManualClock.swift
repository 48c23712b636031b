import RankdCore
import Synchronization

/// A clock that moves only when a test moves it.
public final class ManualClock: WallClock {
    private let current: Mutex<Timestamp>

    /// Starts at 2026-01-01T00:00:00Z unless told otherwise.
    public init(_ start: Timestamp = Timestamp(secondsSince1970: 1_767_225_600)) {
        current = Mutex(start)
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    public func advance(seconds: Double) {
        current.withLock { $0 = $0.adding(seconds: seconds) }
    }

    public func set(_ time: Timestamp) {
        current.withLock { $0 = time }
    }
}
