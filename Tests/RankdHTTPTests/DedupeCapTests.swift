import Foundation
import RankdConfig
import RankdCore
import RankdDaemonTestKit
import RankdServer
import RankdStore
import RankdTestKit
import Testing

@testable import RankdDaemon

/// `ingest.max_dedupe_keys`: past the cap the writer forgets the oldest minutes' request ids
/// first, and shortens the dedupe window in force to what it still remembers, so a record from a
/// forgotten minute is refused as too old instead of being counted twice.
@Suite struct DedupeCapTests {
    @Test func capDropsTheOldestMinutesAndShortensTheWindow() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let daemon = try DaemonState.open(dir, clock: clock)
        var rule = Policy.default.ingest
        rule.maxDedupeKeys = 1_000
        let pipeline = try daemon.ingestPipeline(clock: clock, rule: rule)
        let now = clock.now()
        let minutes = [3, 2, 1].map { now.adding(seconds: Double(-60 * $0)).minute }
        for minute in minutes {
            let records = (0..<600).map { n in
                (
                    requestID: "m\(minute)-\(n)",
                    observation: Observation(
                        endpointID: id("steady"), time: Timestamp(secondsSince1970: Double(minute * 60 + 5)), source: .live, outcome: .ok,
                        ttftMilliseconds: 300)
                )
            }
            async let committed = pipeline.submit(records)
            while pipeline.queuedRecords == 0 { await Task.yield() }
            await pipeline.drain()
            #expect(try await committed.accepted == 600)
        }
        #expect(try daemon.stores.state.dedupe.ingestKeyCounts() == [minutes[0]: 600, minutes[1]: 600, minutes[2]: 600])
        #expect(pipeline.currentRule(now: now).dedupeWindowSeconds == rule.dedupeWindowSeconds)

        await pipeline.prune(piece: 250)
        // 1,800 keys over a cap of 1,000: the two oldest minutes go (in pieces of 250 ids), the
        // newest stays.
        #expect(try daemon.stores.state.dedupe.ingestKeyCounts() == [minutes[2]: 600])
        let window = pipeline.currentRule(now: now).dedupeWindowSeconds
        #expect(window == now.secondsSince1970 - Double(minutes[2] * 60), "the window now starts at the oldest minute remembered")
        #expect(window < 120)
        // The horizon is durable: a writer started on the same state.db (a restart) keeps it.
        #expect(try daemon.stores.state.dedupe.dedupeHorizon() == minutes[2])
        let restarted = try daemon.ingestPipeline(clock: clock, rule: rule)
        #expect(restarted.currentRule(now: now).dedupeWindowSeconds == window)

        // A record from a forgotten minute is refused as too old, not counted twice.
        let resolver = TelemetryResolver(endpoints: testConfiguration(dir).configuration.endpoints)
        var forgotten = TelemetryRecord(requestID: "m\(minutes[1])-0", time: Timestamp(secondsSince1970: Double(minutes[1] * 60 + 5)))
        forgotten.endpointID = id("steady")
        forgotten.status = 200
        var remembered = forgotten
        remembered.requestID = "m\(minutes[2])-0"
        remembered.time = Timestamp(secondsSince1970: Double(minutes[2] * 60 + 5))
        let resolution = resolver.resolve([(0, forgotten), (1, remembered)], now: now, rule: pipeline.currentRule(now: now))
        #expect(resolution.rejected.map(\.index) == [0])
        #expect(resolution.rejected.first?.field == "timestamp")
        #expect(resolution.accepted.map(\.index) == [1], "a remembered minute goes on to the dedupe check")
    }
}
