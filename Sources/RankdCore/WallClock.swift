/// The one notion of time the daemon's parts are handed: the time now, and a sleep until a time.
/// The core only declares it: the daemon passes a system clock, tests a manual one they move by
/// hand (so a service loop's test advances time instead of sleeping).
public protocol WallClock: Sendable {
    func now() -> Timestamp

    /// Suspends until this clock reads `deadline` or later; throws `CancellationError` if the
    /// task is cancelled first.
    func sleep(until deadline: Timestamp) async throws
}

extension WallClock {
    /// Suspends for `seconds` of this clock's time.
    public func sleep(seconds: Double) async throws {
        try await sleep(until: now().adding(seconds: seconds))
    }
}
