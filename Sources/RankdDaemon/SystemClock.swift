import Foundation
import RankdCore

/// The real wall clock, for the daemon. Tests pass a `ManualClock` instead.
public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Timestamp { Timestamp(secondsSince1970: Date().timeIntervalSince1970) }
}
