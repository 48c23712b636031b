import Foundation
import RankdConfig
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdServer
import RankdStore
import RankdTestKit
import Testing

/// `rankd replay` over a real `state.db` written by the daemon's own ranker: it reproduces what
/// was published, moves demotions with the policy, and reads one snapshot while the daemon writes.
@Suite struct ReplayTests {
    static let providers = ["fast", "steady", "slow"]

    /// One minute of traffic from the clock's now (5 live tool-calling requests per endpoint,
    /// stamped inside the minute), then the clock moves to the next minute's start and, every
    /// `epochEvery` minutes, an epoch is published there: each epoch's own minute is empty when it
    /// is computed, so a replay sees what it saw.
    static func runTraffic(
        _ state: DaemonState, clock: ManualClock, minutes: Range<Int>, epochEvery: Int, failEvery: (String, Int) -> Int = { _, _ in 0 }
    ) async throws -> Int {
        var epochs = 0
        for minute in minutes {
            let start = clock.now()
            var observations: [Observation] = []
            for (index, provider) in providers.enumerated() {
                observations += Build.observations(
                    id(provider), count: 5, end: start.adding(seconds: 55), spanSeconds: 50, failEvery: failEvery(provider, minute),
                    ttftMilliseconds: 300 + 150 * Double(index), tokensPerSecond: 90 - 20 * Double(index))
            }
            observations += Build.observations(id("solo", model: "acme/solo-1"), count: 2, end: start.adding(seconds: 55), spanSeconds: 50)
            await state.ranker.record(observations)
            clock.advance(seconds: 60)
            if (minute + 1) % epochEvery == 0 {
                try await state.ranker.computeAndPublish(.scheduled)
                epochs += 1
            }
        }
        try await state.ledger.flush()
        return epochs
    }

    static func model(_ report: ReplayReport, _ name: String = Build.model) throws -> ReplayReport.ModelReport {
        try #require(report.models.first { $0.model == name }, "no \(name) in \(report.models.map(\.model))")
    }

    /// 26 hours (the long window leaves hour by hour, read back from hour rows), a fault in the
    /// last hours: the replay with the recorded policy gives every published epoch again, to the
    /// score, and the demotion at the same time; from a later start (windows loaded from hour
    /// rows, demotion memory from the epoch before) too; twice, the same document.
    @Test func replayWithTheRecordedPolicyReproducesEveryPublishedEpoch() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let state = try DaemonState.open(dir, clock: clock)
        let epochs = try await Self.runTraffic(state, clock: clock, minutes: 0..<(26 * 60), epochEvery: 15) { provider, minute in
            provider == "fast" && minute >= 25 * 60 && minute < 25 * 60 + 30 ? 2 : 0
        }
        let report = try Replay.run(dataDirectory: dir.path, options: ReplayOptions())
        let main = try Self.model(report)
        #expect(report.range.epochsReplayed == epochs)
        #expect(main.epochsCompared == epochs)
        // Where the fault rules acted between epochs (on request-by-request evidence) the report
        // says so; every other epoch is the published one, to the score.
        #expect(main.differences.allSatisfy { !$0.mayDifferBecause.isEmpty && !$0.inputsDiffer }, "\(main.differences)")
        #expect(main.epochsDiffering <= 1, "\(main.differences)")
        #expect(main.epochsDifferingByPolicy == 0 && main.epochsDifferingByInputs == 0)
        let solo = try Self.model(report, "acme/solo-1")
        #expect(solo.epochsDiffering == 0)
        let demotion = try #require(main.demotions.first { $0.endpointID == id("fast") }, "the fault demoted fast")
        #expect(demotion.publishedAt != nil && demotion.publishedAt == demotion.replayedAt)
        #expect(demotion.firstFailingMinute == "\(Timestamp(secondsSince1970: 1_767_225_600 + 25 * 3600))")
        #expect(main.outcome.published == main.outcome.replayed)
        #expect((main.outcome.published.toolCallFailureShare ?? 0) > 0, "the fault's failures are in the estimate")

        var later = ReplayOptions()
        later.from = clock.now().adding(seconds: -2 * 3600)
        let fromLater = try Replay.run(dataDirectory: dir.path, options: later)
        let laterMain = try Self.model(fromLater)
        #expect(laterMain.epochsCompared == 9, "both ends of the range are epochs")
        #expect(laterMain.differences.allSatisfy { !$0.mayDifferBecause.isEmpty }, "\(laterMain.differences)")
        let again = try Replay.run(dataDirectory: dir.path, options: later)
        #expect(try again.json() == fromLater.json())
    }

    /// A lower `z_critical` demotes the failing endpoint sooner, and the report says by how much.
    @Test func aLowerZCriticalDemotesEarlierAndTheReportSaysHowMuch() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let state = try DaemonState.open(dir, clock: clock)
        _ = try await Self.runTraffic(state, clock: clock, minutes: 0..<70, epochEvery: 1) { provider, minute in
            provider == "fast" && minute >= 40 ? 5 : 0
        }
        var options = ReplayOptions()
        var policy = Policy.default
        policy.demotion.failureOutlier.zCritical = 1.64
        options.policy = policy
        options.policyFile = "lenient.yaml"
        let report = try Replay.run(dataDirectory: dir.path, options: options)
        let main = try Self.model(report)
        let timing = try #require(main.demotions.first { $0.endpointID == id("fast") })
        let published = try #require(timing.publishedAfterSeconds)
        let replayed = try #require(timing.replayedAfterSeconds)
        #expect(replayed < published, "\(timing)")
        #expect(timing.firstFailingMinute == "\(Timestamp(secondsSince1970: 1_767_225_600 + 40 * 60))")
        #expect(main.epochsDiffering > 0 && main.epochsDifferingByPolicy == main.epochsDiffering)
        // The recorded policy gives no difference on the same data.
        let recorded = try Self.model(Replay.run(dataDirectory: dir.path, options: ReplayOptions()))
        #expect(recorded.epochsDiffering == 0)
        // Against the recorded policy replayed the same way, the same minute earlier.
        options.baseline = .replay
        let againstReplay = try Self.model(Replay.run(dataDirectory: dir.path, options: options))
        let paired = try #require(againstReplay.demotions.first { $0.endpointID == id("fast") })
        #expect(paired.replayedVsPublishedSeconds == timing.replayedVsPublishedSeconds)
        #expect(againstReplay.differences.allSatisfy { $0.publishedEpochID == nil && $0.mayDifferBecause.isEmpty })
    }

    /// Replays of a directory the daemon is writing to (epochs published, tallies written,
    /// hours rolled up meanwhile) each read one snapshot: every epoch they compare is the one
    /// published, none differs.
    @Test func aReplayWhileTheDaemonWritesSeesOneConsistentSnapshot() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let state = try DaemonState.open(dir, clock: clock)
        _ = try await Self.runTraffic(state, clock: clock, minutes: 0..<30, epochEvery: 2)
        let writer = Task { try await Self.runTraffic(state, clock: clock, minutes: 30..<150, epochEvery: 2) { provider, minute in
            provider == "slow" && minute >= 60 ? 2 : 0
        } }
        var compared: [Int] = []
        for _ in 0..<4 {
            let report = try Replay.run(dataDirectory: dir.path, options: ReplayOptions())
            let main = try Self.model(report)
            #expect(main.differences.allSatisfy { !$0.mayDifferBecause.isEmpty }, "\(main.differences)")
            compared.append(main.epochsCompared)
        }
        _ = try await writer.value
        let final = try Self.model(Replay.run(dataDirectory: dir.path, options: ReplayOptions()))
        #expect(final.epochsCompared == 75)
        #expect(final.differences.allSatisfy { !$0.mayDifferBecause.isEmpty }, "\(final.differences)")
        #expect(compared.allSatisfy { $0 >= 15 && $0 <= 75 }, "\(compared)")
    }

    /// What cannot be replayed is said, with the fix.
    @Test func aMissingDirectoryAnEmptyRangeAndAnUnknownModelAreClearErrors() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: StoreError.self) { try Replay.run(dataDirectory: dir.file("nowhere"), options: ReplayOptions()) }
        let clock = ManualClock()
        let state = try DaemonState.open(dir, clock: clock)
        _ = try await Self.runTraffic(state, clock: clock, minutes: 0..<10, epochEvery: 5)
        var options = ReplayOptions()
        options.model = "nobody/nothing"
        #expect(throws: ReplayError.unknownModel("nobody/nothing", known: ["acme/solo-1", Build.model].sorted())) {
            try Replay.run(dataDirectory: dir.path, options: options)
        }
        options = ReplayOptions()
        options.from = clock.now().adding(seconds: 3600)
        options.to = clock.now().adding(seconds: 7200)
        let error = #expect(throws: ReplayError.self) { try Replay.run(dataDirectory: dir.path, options: options) }
        #expect("\(error!)".contains("history ends") || "\(error!)".contains("no epoch to replay"), "\(error!)")
    }

    /// The benchmark files' scores are recorded as read (start-up here), so a replay weighs the
    /// same scores the published epochs did without being handed the files.
    @Test func benchmarkFileScoresAreRecordedAndReplayed() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        var loaded = testConfiguration(dir)
        let measured = clock.now().adding(seconds: -10 * 86_400)
        loaded.benchmarks = [
            BenchmarkScore(endpointID: id("fast"), benchmark: "tau2", score: 0.9, source: "eval", measuredAt: measured),
            BenchmarkScore(endpointID: id("slow"), benchmark: "tau2", score: 0.4, source: "eval", measuredAt: measured),
        ]
        let state = try DaemonState.open(loaded, clock: clock, logger: quietLogger)
        let epochs = try await Self.runTraffic(state, clock: clock, minutes: 0..<20, epochEvery: 5)
        let published = try #require(state.ranker.holder.epoch)
        #expect(published.ranking(for: Build.model)?.endpoints.first { $0.endpointID == id("fast") }?.explanation.stats.benchmark == 0.9)
        let report = try Replay.run(dataDirectory: dir.path, options: ReplayOptions())
        let main = try Self.model(report)
        #expect(main.epochsCompared == epochs)
        #expect(main.epochsDiffering == 0, "\(main.differences.prefix(1))")
        #expect(report.notes.contains { $0.contains("benchmark files and the admin API's uploads") }, "\(report.notes)")
    }
}
