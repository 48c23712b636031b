import Foundation
import Logging
import RankdCore
import RankdMock
import RankdProber
import RankdTestKit
import Synchronization
import Testing

/// The probe loop against the mock over real libcurl.
@Suite struct SchedulerTests {
    @Test func retryAfterIsHonouredWhileHealthyPeersKeepTheirPace() async throws {
        try await withMock([
            "limited": profile {
                $0.http429 = 1; $0.retryAfterSeconds = 30
            }, "healthy": profile(),
        ]) { base, fleet in
            var rule = Policy.Probing()
            rule.intervalSeconds = 0.2
            rule.suspiciousIntervalSeconds = 0.2
            rule.jitter = 0
            rule.maxPerMinute = 1_000
            let recorded = Mutex<[Outcome]>([])
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let clock = ManualClock()
            let scheduler = ProbeScheduler(
                endpoints: [endpoint("limited", base: base), endpoint("healthy", base: base)], suites: [shippedSuite],
                runner: ProbeRunner(),
                clock: clock, rule: rule, seed: 1, logger: logger, tick: .milliseconds(20),
                record: { result in recorded.withLock { $0.append(result.verdict.outcome) } })
            let task = Task { try await scheduler.run() }
            // The loop's time moves by hand, a tick at a time and only while no probe is on its way
            // (a probe takes no time on this clock), until the healthy peer has been probed 5 times
            // (about 1 s of the clock at this pace; bounded at 20 s of real time on a busy
            // machine): in that time the limited one, at the same pace, would have been probed
            // about as often were the Retry-After hold not honoured.
            let started = ContinuousClock.now
            while (fleet.requestsServed["healthy"] ?? 0) < 5 && ContinuousClock.now - started < .seconds(20) {
                await clock.waitForSleepers(1)
                while scheduler.probesInFlight > 0 && ContinuousClock.now - started < .seconds(20) { await Task.yield() }
                clock.advance(seconds: 0.02)
            }
            task.cancel()
            _ = try? await task.value
            let served = fleet.requestsServed
            #expect(served["limited"] == 1, "a 429 with Retry-After 30 s must hold further probes: \(served)")
            #expect((served["healthy"] ?? 0) >= 5, "the healthy peer kept being probed: \(served)")
            #expect(recorded.withLock { $0.contains(.http429) })
        }
    }

    /// A reload's new targets reach the running loop: an endpoint added is probed, one removed is
    /// not probed again.
    @Test func replacedTargetsProbeTheAddedEndpointAndDropTheRemovedOne() async throws {
        try await withMock(["kept": profile(), "added": profile(), "removed": profile()]) { base, fleet in
            var rule = Policy.Probing()
            rule.intervalSeconds = 0.2
            rule.suspiciousIntervalSeconds = 0.2
            rule.jitter = 0
            rule.maxPerMinute = 1_000
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let clock = ManualClock()
            let scheduler = ProbeScheduler(
                endpoints: [endpoint("kept", base: base), endpoint("removed", base: base)], suites: [shippedSuite], runner: ProbeRunner(),
                clock: clock, rule: rule, seed: 1, logger: logger, tick: .milliseconds(20), record: { _ in })
            let task = Task { try await scheduler.run() }
            let started = ContinuousClock.now
            func drive(until done: () -> Bool) async {
                while !done() && ContinuousClock.now - started < .seconds(20) {
                    await clock.waitForSleepers(1)
                    while scheduler.probesInFlight > 0 && ContinuousClock.now - started < .seconds(20) { await Task.yield() }
                    clock.advance(seconds: 0.02)
                }
            }
            await drive { (fleet.requestsServed["removed"] ?? 0) >= 2 }
            scheduler.targets.replace(endpoints: [endpoint("kept", base: base), endpoint("added", base: base)], suites: [shippedSuite])
            // The loop takes the new targets at its next tick; a probe of the removed one already
            // on its way may finish.
            await clock.waitForSleepers(1)
            while scheduler.probesInFlight > 0 && ContinuousClock.now - started < .seconds(20) { await Task.yield() }
            clock.advance(seconds: 0.02)
            await clock.waitForSleepers(1)
            while scheduler.probesInFlight > 0 && ContinuousClock.now - started < .seconds(20) { await Task.yield() }
            let removedBefore = fleet.requestsServed["removed"] ?? 0
            let keptBefore = fleet.requestsServed["kept"] ?? 0
            await drive { (fleet.requestsServed["added"] ?? 0) >= 3 }
            task.cancel()
            _ = try? await task.value
            let served = fleet.requestsServed
            #expect((served["added"] ?? 0) >= 3, "the added endpoint is probed: \(served)")
            #expect(served["removed"] == removedBefore, "the removed endpoint is not probed again: \(served)")
            #expect((served["kept"] ?? 0) > keptBefore, "the kept endpoint keeps its pace: \(served)")
        }
    }
}
