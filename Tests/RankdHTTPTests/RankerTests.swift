import Foundation
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdServer
import RankdStore
import RankdTestKit
import Testing

/// The ranker over real stores: restart, fast path, publication order.
@Suite struct RankerTests {
    @Test func restartServesTheLastEpochAtOnceAndRebuildsTheWindows() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let firstState = try DaemonState.open(dir, clock: clock)
        let first = firstState.ranker
        await first.record(Build.observations(id("steady"), count: 50, end: clock.now()))
        let published = try await first.computeAndPublish(.scheduled)
        await first.record(Build.observations(id("slow"), count: 30, end: clock.now().adding(seconds: 30), spanSeconds: 30))
        try await firstState.ledger.flush()
        let before = await firstState.ledger.stats(for: id("slow"))

        clock.advance(seconds: 60)
        let secondState = try DaemonState.open(dir, clock: clock)
        let second = secondState.ranker
        #expect(second.holder.epoch == published, "served from disk before any new epoch")
        #expect(await secondState.ledger.stats(for: id("steady")).long.live.total == 50)
        let next = try await second.computeAndPublish(.scheduled)
        #expect(next.id == published.id + 1, "epoch ids continue across restarts")
        #expect(await secondState.ledger.stats(for: id("slow")).long == before.long)
    }

    /// The rolling 5- and 30-minute figures come back whole after a restart (start-up reads the
    /// minutes of the longest window, not only the short one's), and records leave each window as
    /// its end passes them.
    @Test func rollingFiguresSurviveARestartAndMoveWithTheClock() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // 20 minutes past the hour: the 30-minute window starts in the hour before the short
        // window's, so rebuilding only the short window's minutes would lose its first records.
        let clock = ManualClock(Timestamp(secondsSince1970: 1_767_225_600 + 20 * 60))
        let now = clock.now()
        let firstState = try DaemonState.open(dir, clock: clock)
        let endpoint = id("steady")
        await firstState.ranker.record(Build.observations(endpoint, count: 20, end: now.adding(seconds: -24 * 60 - 20), spanSeconds: 30))
        await firstState.ranker.record(
            Build.observations(endpoint, count: 10, end: now.adding(seconds: -12 * 60), spanSeconds: 30, failEvery: 1, failure: .http5xx))
        await firstState.ranker.record(Build.observations(endpoint, count: 5, end: now.adding(seconds: -2 * 60), spanSeconds: 30))
        // A scheduled epoch rolls the minutes before the short window up into hours.
        try await firstState.ranker.computeAndPublish(.scheduled)
        let before = try await firstState.ledger.figures(for: [endpoint], now: now)[endpoint]
        #expect(before?.windows[300]?.requests == 5)
        #expect(before?.windows[1_800]?.requests == 35)
        #expect(before?.windows[1_800]?.uptimePercent == 25.0 / 35 * 100)

        let secondState = try DaemonState.open(dir, clock: clock)
        #expect(try await secondState.ledger.figures(for: [endpoint], now: now)[endpoint] == before)
        clock.advance(seconds: 4 * 60)
        let later = try await secondState.ledger.figures(for: [endpoint], now: clock.now())[endpoint]
        #expect(later?.windows[300]?.requests == 0)
        #expect(later?.windows[1_800]?.requests == 35)
        clock.advance(seconds: 60)
        let last = try await secondState.ledger.figures(for: [endpoint], now: clock.now())[endpoint]
        #expect(last?.windows[1_800]?.requests == 15)
        #expect(last?.windows[1_800]?.uptimePercent == 5.0 / 15 * 100)
        #expect(last?.windows[86_400]?.requests == 35)
        // A route's cut-offs ask for one window: that one alone, with the same figures.
        let one = try await secondState.ledger.figures(for: [endpoint], now: clock.now(), onlyWindowSeconds: 1_800)[endpoint]
        #expect(one?.windows.keys.sorted() == [1_800])
        #expect(one?.windows[1_800] == last?.windows[1_800])
    }

    /// Start-up serves the last epoch before the windows are rebuilt; what is recorded (and
    /// journalled, and flushed) in between is counted once, beside what was stored before.
    @Test func recordsBeforeTheWindowsAreRebuiltAreCountedOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let firstState = try DaemonState.open(dir, clock: clock)
        let first = firstState.ranker
        await first.record(Build.observations(id("steady"), count: 40, end: clock.now()))
        try await first.computeAndPublish(.scheduled)
        // Live records acknowledged just before a crash: journalled, never folded.
        let store = firstState.stores.state
        let journalled = Build.observations(id("steady"), count: 7, end: clock.now().adding(seconds: 10), spanSeconds: 5)
        _ = try store.journal.commit(journalled.enumerated().map { (requestID: "pre-crash-\($0.offset)", observation: $0.element) })

        clock.advance(seconds: 30)
        let secondState = try DaemonState.open(dir, clock: clock)
        let second = secondState.ranker
        #expect(second.holder.epoch != nil, "ready: the last epoch is served at once")
        // Before the rebuild: a probe result and a live record arrive, and the live one is
        // journalled (as the ingest path does), then the rebuild and a flush run.
        await second.record(Build.observations(id("steady"), count: 3, end: clock.now(), spanSeconds: 2, source: .probe))
        let live = Build.observations(id("steady"), count: 5, end: clock.now(), spanSeconds: 2)
        let group = try await secondState.ledger.commitLive(live.enumerated().map { (requestID: "after-\($0.offset)", observation: $0.element) })
        await second.record(group)
        #expect(try await secondState.ledger.rebuild() > 0)
        #expect(try await secondState.ledger.rebuild() == 0, "once")
        try await secondState.ledger.flush()
        try await secondState.ledger.foldJournal()
        let stats = await secondState.ledger.stats(for: id("steady"))
        #expect(stats.long.live.total == 40 + 7 + 5)
        #expect(stats.long.probe.total == 3)
        #expect(try secondState.stores.state.journal.storedLiveRequests() == 40 + 7 + 5)
    }

    @Test func fastPathAsksForAnEpochAndDemotesWithinSeconds() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let ranker = try DaemonState.open(dir, clock: clock).ranker
        try await ranker.computeAndPublish(.startup)
        var summary = Ranker.RecordSummary()
        for second in 0..<5 {
            let observation = Observation(
                endpointID: id("fast"), time: clock.now().adding(seconds: Double(second)), source: .live, outcome: .timeout)
            let result = await ranker.record([observation])
            summary.accepted += result.accepted
            summary.fastPathTriggers += result.fastPathTriggers
        }
        #expect(summary == Ranker.RecordSummary(accepted: 5, fastPathTriggers: 1))
        var iterator = ranker.triggers.makeAsyncIterator()
        #expect(await iterator.next() == .fastPath)
        clock.advance(seconds: 5)
        let epoch = try await ranker.computeAndPublish(.fastPath)
        let fast = epoch.ranking(for: Build.model)!.endpoints.last!
        #expect(fast.endpointID == id("fast") && fast.status == .demoted && fast.reasons == ["consecutive_failures"])
        #expect(try PublishedReader.currentRankings(path: dir.file("rankings.db"), model: Build.model).last?.status == "demoted")
    }

    @Test func unknownAndStaleObservationsAreCountedNotStored() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let ranker = try DaemonState.open(dir, clock: clock).ranker
        let summary = await ranker.record([
            Observation(endpointID: "nobody:x/y", time: clock.now(), source: .live, outcome: .ok),
            Observation(endpointID: id("fast"), time: clock.now().adding(seconds: -3 * 86_400), source: .live, outcome: .ok),
            Observation(endpointID: id("fast"), time: clock.now(), source: .live, outcome: .ok),
        ])
        #expect(summary == Ranker.RecordSummary(accepted: 1, tooOld: 1, unknownEndpoint: 1))
    }
}
