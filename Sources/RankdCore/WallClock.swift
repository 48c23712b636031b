/// A source of the current time, handed to whatever needs one. The core only declares it:
/// the daemon passes a system clock, tests a manual one.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}
