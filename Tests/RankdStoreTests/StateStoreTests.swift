import Foundation
import GRDB
import RankdCore
import RankdStore
import RankdTestKit
import Testing

@Suite struct StateStoreTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    static let allMigrations = [
        "v1", "v2 overrides", "v3 ingest keys", "v4 hour buckets", "v5 live journal", "v6 deflated epoch bodies",
        "v7 ingest keys by minute", "v8 benchmark scores and policies", "v9 benchmark file sets",
    ]

    @Test func freshDatabaseIsMigratedToTheCurrentVersion() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        #expect(try store.appliedMigrations() == Self.allMigrations)
        let version = try DatabaseQueue(path: dir.file("state.db")).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
        #expect(version == StateStore.schemaVersion)
        let mode = try DatabaseQueue(path: dir.file("state.db")).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func existingDatabaseKeepsItsDataAndIsNotMigratedTwice() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let store = try StateStore(path: dir.file("state.db"))
            try store.registry.save([Build.endpoint("a"), Build.endpoint("b")], at: start)
        }
        let reopened = try StateStore(path: dir.file("state.db"))
        #expect(try reopened.appliedMigrations() == Self.allMigrations)
        #expect(try reopened.registry.load() == [Build.endpoint("a"), Build.endpoint("b")])
        // Every registry run with is kept by hash, once, from its first use.
        try reopened.registry.save([Build.endpoint("b"), Build.endpoint("a")], at: start.adding(seconds: 60))
        try reopened.registry.save([Build.endpoint("a")], at: start.adding(seconds: 120))
        let versions = try reopened.registry.versions()
        #expect(versions.map(\.endpoints.count) == [2, 1])
        #expect(versions.map(\.firstUsed) == [start, start.adding(seconds: 120)])
        #expect(versions[0].hash == (try RegistryStore.hash([Build.endpoint("b"), Build.endpoint("a")])))
    }

    @Test func newerSchemaAndForeignFilesAreRefusedWithTheFix() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let newer = StateStore.schemaVersion + 1
        try DatabaseQueue(path: dir.file("newer.db")).write { try $0.execute(sql: "PRAGMA user_version = \(newer)") }
        #expect(throws: StoreError.newerSchema(file: dir.file("newer.db"), found: newer, supported: StateStore.schemaVersion)) {
            try StateStore(path: dir.file("newer.db"))
        }
        try DatabaseQueue(path: dir.file("other.db")).write { try $0.execute(sql: "CREATE TABLE customers (id INTEGER)") }
        #expect(throws: StoreError.notRankdDatabase(file: dir.file("other.db"))) {
            try StateStore(path: dir.file("other.db"))
        }
    }

    @Test func bucketsAccumulateAndRebuildTheSameWindows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        let now = start.adding(seconds: 1_800)
        let id = "a:\(Build.model)"
        var live = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: start)
        // Two flushes that touch the same minutes: the store must add, not overwrite.
        for batch in 0..<2 {
            for o in Build.observations(
                id, count: 120, end: now, spanSeconds: 1_500, failEvery: 3 + batch, ttftMilliseconds: 300 + Double(batch) * 200)
            {
                live.record(o)
            }
            try store.buckets.add(live.drainPendingBuckets())
        }
        var past = store.buckets
        try live.advance(to: now, past: &past)
        // Rebuilt as the daemon's ledger does at start-up: opened now, the stored past loaded.
        var rebuilt = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: now)
        for bucket in try store.buckets.load(sinceMinute: now.minute - 1_440) { rebuilt.load(bucket) }
        #expect(rebuilt.stats(for: id) == live.stats(for: id))
        #expect(live.stats(for: id).long.live.total == 240)
        #expect(rebuilt.drainPendingBuckets().isEmpty, "loaded buckets are not written back")
    }

    /// Hours the short window no longer needs are rolled up; a restart reads hour rows for them
    /// and minute rows after, and rebuilds exactly the windows the running aggregator holds. A
    /// minute that arrives after its hour was rolled up is added to the hour too.
    @Test func rolledUpHoursRebuildTheSameWindows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        let id = "a:\(Build.model)"
        let now = start.adding(seconds: 6 * 3_600 + 1_234)
        var live = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: start)
        for o in Build.observations(id, count: 2_000, end: now, spanSeconds: 6 * 3_600, failEvery: 7, ttftMilliseconds: 250) {
            live.record(o)
        }
        try store.buckets.add(live.drainPendingBuckets())
        var past = store.buckets
        try live.advance(to: now, past: &past)
        let shortStart = now.minute - 15 + 1
        #expect(try store.buckets.rollUp(beforeMinute: shortStart) > 0)
        #expect(try store.buckets.rolledUpUntil() == shortStart)
        #expect(try store.buckets.rollUp(beforeMinute: shortStart) == 0, "an hour is rolled up once")
        let loaded = try store.buckets.loadWindowBuckets(sinceMinute: now.minute - 1_440 + 1, exactWindowStartMinute: shortStart)
        #expect(loaded.contains { $0.bucket.spanMinutes == 60 })
        #expect(loaded.count <= 7 + 15, "hours, then the short window's minutes")
        #expect(loaded.allSatisfy { $0.inLongWindow })
        #expect(loaded.map(\.bucket.tally.total).reduce(0, +) == 2_000, "every observation once")
        var rebuilt = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: now)
        for (bucket, inLong) in loaded { rebuilt.load(bucket, inLongWindow: inLong) }
        #expect(rebuilt.stats(for: id) == live.stats(for: id))

        // Minutes roll up as the short window moves on: the current hour's row grows.
        let later = now.adding(seconds: 600)
        for o in Build.observations(id, count: 100, end: later, spanSeconds: 600, ttftMilliseconds: 900) { live.record(o) }
        try store.buckets.add(live.drainPendingBuckets())
        try live.advance(to: later, past: &past)
        #expect(try store.buckets.rollUp(beforeMinute: later.minute - 15 + 1) > 0)
        var rebuiltLater = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: later)
        let loadedLater = try store.buckets.loadWindowBuckets(sinceMinute: later.minute - 1_440 + 1, exactWindowStartMinute: later.minute - 15 + 1)
        for (bucket, inLong) in loadedLater { rebuiltLater.load(bucket, inLongWindow: inLong) }
        #expect(rebuiltLater.stats(for: id) == live.stats(for: id))
        #expect(loadedLater.map(\.bucket.tally.total).reduce(0, +) == 2_100)
        // A longer exact window after a restart (a policy with a longer short window, the recent
        // windows) gets its minutes as minutes, from its start only; those the hour rows hold
        // too are for the exact windows, not the long one.
        let exactStart = later.minute - 89
        let longer = try store.buckets.loadWindowBuckets(sinceMinute: later.minute - 1_440 + 1, exactWindowStartMinute: exactStart)
        let minutes = longer.filter { $0.bucket.spanMinutes == 1 }
        #expect(minutes.allSatisfy { $0.bucket.minute >= exactStart })
        #expect(minutes.contains { $0.bucket.minute < later.minute - 15 && !$0.inLongWindow })
        #expect(longer.filter(\.inLongWindow).map(\.bucket.tally.total).reduce(0, +) == 2_100)
        var rebuiltLonger = WindowAggregator(shortWindowSeconds: 90 * 60, longWindowSeconds: 86_400, now: later)
        for (bucket, inLong) in longer { rebuiltLonger.load(bucket, inLongWindow: inLong) }
        let liveMinutes = (try store.buckets.load(sinceMinute: exactStart)).map(\.tally.total).reduce(0, +)
        #expect(rebuiltLonger.stats(for: id).long == live.stats(for: id).long)
        #expect(rebuiltLonger.stats(for: id).short.combined.total == liveMinutes)

        // A late minute of a rolled-up hour.
        let lateMinute = start.minute + 5
        var late = Tally()
        late.record(Observation(endpointID: id, time: start, source: .live, outcome: .timeout))
        let hourBefore = try store.buckets.loadHourBuckets(sinceMinute: 0).first { $0.minute == (lateMinute / 60) * 60 && $0.source == .live }
        try store.buckets.add([MinuteBucket(endpointID: id, minute: lateMinute, source: .live, tally: late)])
        let hourAfter = try store.buckets.loadHourBuckets(sinceMinute: 0).first { $0.minute == (lateMinute / 60) * 60 && $0.source == .live }
        #expect(hourAfter?.tally.total == (hourBefore?.tally.total ?? 0) + 1)
        #expect(hourAfter?.tally.count(.timeout) == (hourBefore?.tally.count(.timeout) ?? 0) + 1)
    }

    @Test func epochsAndDemotionsRoundTripAndArePruned() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        var engine = MemoryRanking(policy: .default, endpoints: [Build.endpoint("a"), Build.endpoint("b")], now: start)
        for o in Build.observations("a:\(Build.model)", count: 10, end: start.adding(seconds: 5), spanSeconds: 5, failure: .http5xx) {
            _ = engine.record(o)
        }
        for index in 0..<5 {
            _ = engine.record(
                Observation(
                    endpointID: "b:\(Build.model)", time: start.adding(seconds: 6 + Double(index)), source: .probe, outcome: .timeout))
        }
        var saved: [Epoch] = []
        for day in 0..<3 {
            let epoch = engine.computeEpoch(now: start.adding(seconds: 10 + Double(day) * 86_400), trigger: .scheduled)
            try store.history.save(epoch, demotions: engine.demotions)
            saved.append(epoch)
        }
        #expect(try store.history.latest() == saved.last)
        #expect(try store.history.epoch(id: saved[0].id) == saved[0])
        #expect(try store.demotions.load() == engine.demotions.filter { $0.value != DemotionState() })
        #expect(try store.demotions.load()["b:\(Build.model)"]?.level == 1)
        // Each epoch keeps the memory it left (what a replay starting there needs).
        #expect(try store.history.demotions(afterEpoch: saved[2].id) == engine.demotions.filter { $0.value != DemotionState() })
        #expect(try store.history.demotions(afterEpoch: 999) == nil)
        let epochsDeleted = try store.history.prune(now: start.adding(seconds: 2 * 86_400 + 5), retentionSeconds: 86_400)
        #expect(epochsDeleted == 1)
        #expect(try store.history.epochs(since: start).map(\.id) == [saved[1].id, saved[2].id])
    }
}
