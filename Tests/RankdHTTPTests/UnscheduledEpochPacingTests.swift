import Foundation
import HummingbirdTesting
import RankdConfig
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdServer
import RankdTestKit
import Testing

/// Epochs out of schedule (fast path, outlier checks, overrides) are published at most once per
/// `routing.min_unscheduled_epoch_seconds`: a storm of triggers coalesces instead of becoming a
/// storm of publications, and the last trigger is still served. The epoch loop's clock is moved
/// by hand, so the test is exact and takes no time of its own.
@Suite struct UnscheduledEpochPacingTests {
    @Test func aStormOfFastPathTriggersPublishesOneEpochPerSecondOfTheClock() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var loaded = testConfiguration(dir)
        loaded.policy.routing.minUnscheduledEpochSeconds = 1
        loaded.policy.routing.warmupIntervalSeconds = 0  // only the storm's epochs
        let clock = ManualClock()
        let (app, ranker) = try RankdApplication.build(loaded, clock: clock, logger: quietLogger)
        // The loops asleep on the clock once the daemon has started: the schedule, the 1 s
        // expiry checks, the flushes, the outlier checks and the dedupe pruning.
        let idleSleepers = 4 + (loaded.policy.fastPath.outlierCheckSeconds > 0 ? 1 : 0)
        try await app.test(.live) { _ in
            let first = try #require(await epoch(after: 0, of: ranker)).id
            #expect(await clock.waitForSleepers(idleSleepers))

            // The first trigger is published at once.
            ranker.requestEpoch(.fastPath)
            #expect(await epoch(after: first, of: ranker)?.id == first + 1)
            // A storm within the same second: one waits for the spacing, the rest coalesce into
            // one more (and so do those that come during the wait).
            for _ in 0..<150 { ranker.requestEpoch(.fastPath) }
            #expect(await clock.waitForSleepers(idleSleepers + 1), "the epoch loop waits out the spacing")
            for _ in 0..<150 { ranker.requestEpoch(.fastPath) }
            clock.advance(seconds: 0.5)
            await settle()
            #expect(ranker.holder.epoch?.id == first + 1, "no epoch before a second of the clock has passed")
            clock.advance(seconds: 0.5)
            #expect(await epoch(after: first + 1, of: ranker)?.id == first + 2)
            // The storm's coalesced rest is served a second later, and then nothing more.
            #expect(await clock.waitForSleepers(idleSleepers + 1))
            clock.advance(seconds: 1)
            #expect(await epoch(after: first + 2, of: ranker)?.id == first + 3)
            clock.advance(seconds: 2)
            await settle()
            #expect(ranker.holder.epoch?.id == first + 3, "301 triggers made three epochs")
            #expect(ranker.holder.epoch?.trigger == .fastPath)
        }
    }

    /// The served epoch once its id passes `id` (nil if none within 10 s of real time).
    func epoch(after id: Int64, of ranker: Ranker) async -> Epoch? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let epoch = ranker.holder.epoch, epoch.id > id { return epoch }
            await Task.yield()
        }
        return nil
    }

    /// Lets whatever the last clock move woke run to its next wait.
    func settle() async {
        for _ in 0..<200 { await Task.yield() }
    }
}
