import Foundation
import RankdConfig
import RankdCore
import RankdDaemonTestKit
import RankdServer
import RankdStore
import RankdTestKit
import Synchronization
import Testing

@testable import RankdDaemon

/// The daemon's windows hold running totals and read back from `state.db` what leaves them: over
/// a day and more of live telemetry (late, early, through the real ingest writer and its journal)
/// and probe results, with epochs rolling minutes up into hours, their totals must always equal
/// the sums of the stored minute rows over each window.
@Suite struct WindowReadBackTests {
    @Test func windowsAgreeWithTheStoreOverADay() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let loaded = testConfiguration(dir)
        let daemon = try DaemonState.open(loaded, clock: clock, logger: quietLogger)
        let ranker = daemon.ranker
        let pipeline = try daemon.ingestPipeline(clock: clock, rule: loaded.policy.ingest)
        let ids = ["fast", "steady", "slow"].map { id($0) }
        var rng = SeededGenerator(seed: 7)
        var request = 0
        let outcomes: [Outcome] = [.ok, .ok, .ok, .schemaViolation, .timeout, .http5xx]
        let step = 13.0 * 60
        for round in 0..<Int(27 * 3_600 / step) {
            let now = clock.now()
            let live = (0..<24).map { _ in
                request += 1
                return (
                    requestID: "r\(request)",
                    observation: Observation(
                        endpointID: ids.randomElement(using: &rng)!, time: now.adding(seconds: Double.random(in: -1_200...60, using: &rng)),
                        source: .live, outcome: outcomes.randomElement(using: &rng)!, toolsOffered: true,
                        ttftMilliseconds: Double.random(in: 100...2_000, using: &rng))
                )
            }
            async let committed = pipeline.submit(live)
            while pipeline.queuedRecords == 0 { await Task.yield() }
            await pipeline.drain()
            #expect(try await committed.accepted == live.count)
            let probes = (0..<3).map { _ in
                Observation(
                    endpointID: ids.randomElement(using: &rng)!, time: now.adding(seconds: Double.random(in: -30...0, using: &rng)),
                    source: .probe, outcome: outcomes.randomElement(using: &rng)!, toolsOffered: true,
                    ttftMilliseconds: Double.random(in: 100...2_000, using: &rng))
            }
            await ranker.record(probes)
            if round % 4 == 0 { try await daemon.ledger.foldJournal() }
            if round % 3 == 0 { await ranker.checkOutliersBetweenEpochs() }
            try await ranker.computeAndPublish(.scheduled)

            let minute = now.minute
            let stored = try daemon.stores.state.journal.loadBucketsIncludingJournal(sinceMinute: 0)
            for endpoint in ids {
                var short = SourceTallies()
                var long = SourceTallies()
                for bucket in stored where bucket.endpointID == endpoint && bucket.minute <= minute {
                    if bucket.minute > minute - 15 { short.add(bucket.tally, source: bucket.source) }
                    if WindowAggregator.spanStart(of: bucket.minute, span: 60) + 59 > minute - 1_440 {
                        long.add(bucket.tally, source: bucket.source)
                    }
                }
                let stats = await daemon.ledger.stats(for: endpoint)
                #expect(stats.short == short, "round \(round), \(endpoint): short window")
                #expect(stats.long == long, "round \(round), \(endpoint): long window")
            }
            clock.advance(seconds: step)
        }
        // The day was rolled up into hours, and the windows read hour rows back as they left.
        #expect(try daemon.stores.state.count(table: "hour_buckets") > 0)
        #expect(try daemon.stores.state.buckets.rolledUpUntil() != nil)
    }

    /// While the scorer holds the totals (`lend`), what is counted waits beside them (the table
    /// it reads is not written, so not copied), and is counted when they come back; a minute
    /// turning meanwhile counts it before the windows read back what leaves them. Nothing is lost
    /// or counted twice: the windows still equal the stored rows.
    @Test func countingWhileTotalsAreLentWaitsAndLosesNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let daemon = try DaemonState.open(dir, clock: clock)
        let (ledger, ranker) = (daemon.ledger, daemon.ranker)
        try await ledger.rebuild()
        var request = 0
        func live(_ count: Int, at time: Timestamp) async throws -> Ranker.RecordSummary {
            let records = (0..<count).map { n -> (requestID: String, observation: Observation) in
                request += 1
                return ("lent-\(request)", Observation(endpointID: id("fast"), time: time.adding(seconds: Double(n % 50)), source: .live, outcome: .ok))
            }
            return await ranker.record(try await ledger.commitLive(records))
        }
        #expect(try await live(40, at: clock.now()).accepted == 40)
        await ranker.record(Build.observations(id("steady"), count: 6, end: clock.now(), source: .probe))
        let before = await ledger.stats(for: id("fast"))

        let lent = try await ledger.lend(advancingTo: clock.now())
        #expect(lent.stats(for: id("fast")) == before)
        #expect(try await live(25, at: clock.now()).accepted == 25, "admitted at once, while lent")
        let probes = await ranker.record(Build.observations(id("steady"), count: 4, end: clock.now(), source: .probe))
        #expect(probes.accepted == 4)
        #expect(await ledger.stats(for: id("fast")) == before, "waiting beside the lent totals")
        await ledger.giveBack()
        #expect(await ledger.stats(for: id("fast")).short.live.total == 65)
        #expect(await ledger.stats(for: id("steady")).short.probe.total == 10)

        // Lent again, more counted, and the minute turns before the totals come back.
        let again = try await ledger.lend(advancingTo: clock.now())
        #expect(again.stats(for: id("fast")).short.live.total == 65)
        #expect(try await live(15, at: clock.now()).accepted == 15)
        clock.advance(seconds: 20 * 60)
        try await ledger.advance(to: clock.now())
        await ledger.giveBack()
        try await ledger.flush()
        let minute = clock.now().minute
        let stored = try daemon.stores.state.journal.loadBucketsIncludingJournal(sinceMinute: 0)
        for endpoint in [id("fast"), id("steady")] {
            var short = SourceTallies()
            var long = SourceTallies()
            for bucket in stored where bucket.endpointID == endpoint && bucket.minute <= minute {
                if bucket.minute > minute - 15 { short.add(bucket.tally, source: bucket.source) }
                long.add(bucket.tally, source: bucket.source)
            }
            let stats = await ledger.stats(for: endpoint)
            #expect(stats.short == short, "\(endpoint): short window")
            #expect(stats.long == long, "\(endpoint): long window")
        }
        #expect(await ledger.stats(for: id("fast")).long.live.total == 80)
        #expect(await ledger.stats(for: id("fast")).short.live.total == 0, "20 minutes later, out of the short window")
    }

    /// The gate serves one holder at a time, in the order they came.
    @Test func gateIsExclusiveAndFirstComeFirstServed() async throws {
        let gate = IngestGate()
        final class Seen: Sendable {
            let order = Mutex<[Int]>([])
            let inside = Mutex(0)
        }
        let seen = Seen()
        await gate.lock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<8 {
                group.addTask {
                    await gate.lock()
                    let holders = seen.inside.withLock { $0 += 1; return $0 }
                    #expect(holders == 1)
                    seen.order.withLock { $0.append(n) }
                    await Task.yield()
                    seen.inside.withLock { $0 -= 1 }
                    gate.unlock()
                }
                // Each waiter queued before the next one starts.
                await gate.waitForWaiters(n + 1)
            }
            gate.unlock()
            try await group.waitForAll()
        }
        #expect(seen.order.withLock { $0 } == Array(0..<8))
    }

    /// Ingest groups hold the gate shared (one recorded while the next commits); the read-back
    /// holds it exclusive: it waits for every shared holder, and shared takers that come after it
    /// wait for it (else a steady stream of groups would starve the read-back).
    @Test func sharedHoldersOverlapAndAnExclusiveWaiterGoesBeforeLaterOnes() async throws {
        let gate = IngestGate()
        final class Seen: Sendable {
            let events = Mutex<[String]>([])
            func add(_ event: String) { events.withLock { $0.append(event) } }
        }
        let seen = Seen()
        await gate.lockShared()
        await gate.lockShared()  // a second shared holder does not wait for the first
        seen.add("two shared")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await gate.lock()
                seen.add("exclusive")
                await Task.yield()
                seen.add("exclusive done")
                gate.unlock()
            }
            await gate.waitForWaiters(1)
            group.addTask {
                await gate.lockShared()  // came after the exclusive waiter: waits for it
                seen.add("late shared")
                gate.unlockShared()
            }
            await gate.waitForWaiters(2)
            #expect(seen.events.withLock { $0 } == ["two shared"], "the exclusive waiter must wait for both shared holders")
            gate.unlockShared()
            #expect(gate.waiterCount == 2, "one shared holder is left: both still wait")
            #expect(seen.events.withLock { $0 } == ["two shared"], "one shared holder is left")
            gate.unlockShared()
            try await group.waitForAll()
        }
        #expect(seen.events.withLock { $0 } == ["two shared", "exclusive", "exclusive done", "late shared"])
        // Free again: both kinds are taken at once.
        await gate.lock()
        gate.unlock()
        await gate.lockShared()
        gate.unlockShared()
    }
}

