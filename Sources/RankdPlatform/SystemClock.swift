import Foundation
import RankdCore

/// The real wall clock, for the daemon. Tests pass a `ManualClock` instead.
public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Timestamp { Timestamp(secondsSince1970: Date().timeIntervalSince1970) }

    /// A sleep of the time left until `deadline` as read now (a wall clock stepped meanwhile does
    /// not stretch or cut it).
    public func sleep(until deadline: Timestamp) async throws {
        let seconds = deadline.seconds(since: now())
        if seconds > 0 { try await Task.sleep(for: .seconds(seconds)) } else { try Task.checkCancellation() }
    }
}
