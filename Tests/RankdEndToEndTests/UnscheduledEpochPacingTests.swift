import Foundation
import HummingbirdTesting
import RankdConfig
import RankdCore
import RankdPlatform
import RankdDaemon
import RankdDaemonTestKit
import RankdServer
import RankdTestKit
import Testing

/// Epochs out of schedule (fast path, outlier checks, overrides) are published at most once per
/// `routing.min_unscheduled_epoch_seconds`: a storm of triggers coalesces instead of becoming a
/// storm of publications, and the last trigger is still served (about 4 s).
@Suite struct UnscheduledEpochPacingTests {
    @Test func aStormOfFastPathTriggersPublishesAboutOneEpochPerSecond_4s() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var loaded = testConfiguration(dir)
        loaded.policy.routing.minUnscheduledEpochSeconds = 1
        loaded.policy.routing.warmupIntervalSeconds = 0  // only the storm's epochs
        let (app, ranker) = try RankdApplication.build(loaded, clock: SystemClock(), logger: quietLogger)
        try await app.test(.live) { _ in
            // The start-up epoch first.
            let ready = ContinuousClock.now + .seconds(10)
            while ranker.holder.epoch == nil && ContinuousClock.now < ready { try await Task.sleep(for: .milliseconds(20)) }
            let first = try #require(ranker.holder.epoch).id
            let started = ContinuousClock.now
            var asked = 0
            // 3 s of triggers, one every 20 ms (150 of them).
            while ContinuousClock.now - started < .seconds(3) {
                ranker.requestEpoch(.fastPath)
                asked += 1
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(1_300))  // the last one is still published
            let published = try #require(ranker.holder.epoch).id - first
            print("unscheduled epochs: \(asked) triggers in 3 s published \(published) epochs")
            #expect(published >= 3 && published <= 5, "\(published) epochs for \(asked) triggers")
            #expect(ranker.holder.epoch?.trigger == .fastPath)
        }
    }
}
