import Foundation
import GRDB
import RankdCore
import RankdTestKit
import Testing

@testable import RankdStore

/// `ingest_keys`, the dedupe memory of live telemetry: keyed by (minute, request_id) since schema
/// 7, pruned oldest first and in pieces.
@Suite struct IngestKeysTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)

    func record(_ id: String, minute offset: Int) -> (requestID: String, observation: Observation) {
        (
            requestID: id,
            observation: Observation(
                endpointID: "p:acme/m", time: start.adding(seconds: Double(60 * offset + 7)), source: .live, outcome: .ok,
                ttftMilliseconds: 250)
        )
    }

    /// A schema-6 file with dedupe keys: the migration keeps every key, so a replay after the
    /// upgrade is still a duplicate.
    @Test func migrationFromSchema6KeepsEveryKey() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("state.db")
        do {
            let queue = try DatabaseQueue(path: path)
            try StateStore.migrator.migrate(queue, upTo: "v6 deflated epoch bodies")
            try queue.write { db in
                #expect(try Int.fetchOne(db, sql: "PRAGMA user_version") == 6)
                for n in 0..<300 {
                    try db.execute(
                        sql: "INSERT INTO ingest_keys (request_id, minute) VALUES (?, ?)",
                        arguments: ["old-\(n)", start.minute + Int64(n % 3)])
                }
            }
        }
        let store = try StateStore(path: path)
        #expect(try store.appliedMigrations().suffix(3) == ["v7 ingest keys by minute", "v8 benchmark scores and policies", "v9 benchmark file sets"])
        let base = start.minute
        #expect(try store.dedupe.ingestKeyCounts() == [base: 100, base + 1: 100, base + 2: 100])
        let fresh = try store.journal.commit([record("old-4", minute: 1), record("old-5", minute: 2), record("new-1", minute: 1)])
        #expect(fresh == [false, false, true], "keys from before the upgrade still catch replays")
        #expect(try store.journal.storedLiveRequests() == 1)
        let columns = try DatabaseQueue(path: path).read { db in try db.primaryKey("ingest_keys").columns }
        #expect(columns == ["minute", "request_id"])
        let indexes = try DatabaseQueue(path: path).read { db in try db.indexes(on: "ingest_keys").filter { $0.origin != .primaryKeyConstraint } }
        #expect(indexes.isEmpty, "no second index to write on every insert")
    }

    /// Pieces delete the oldest ids first, exactly `limit` each, and never an id of `before` or
    /// later; a piece shorter than `limit` means nothing before it is left.
    @Test func pruningInPiecesDeletesTheOldestFirst() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        var batch: [(requestID: String, observation: Observation)] = []
        for minute in 0..<4 {
            for n in 0..<50 { batch.append(record("id-\(n)", minute: minute)) }
        }
        #expect(try store.journal.commit(batch).allSatisfy { $0 }, "the same id in another minute is another record")
        let base = start.minute
        #expect(try await store.dedupe.pruneIngestKeys(before: base + 3, limit: 70) == 70)
        #expect(try store.dedupe.ingestKeyCounts() == [base + 1: 30, base + 2: 50, base + 3: 50])
        #expect(try await store.dedupe.pruneIngestKeys(before: base + 3, limit: 70) == 70)
        #expect(try store.dedupe.ingestKeyCounts() == [base + 2: 10, base + 3: 50])
        #expect(try await store.dedupe.pruneIngestKeys(before: base + 3, limit: 70) == 10)
        #expect(try await store.dedupe.pruneIngestKeys(before: base + 3, limit: 70) == 0)
        #expect(try store.dedupe.ingestKeyCounts() == [base + 3: 50])
        // What is kept still deduplicates; the pruned minutes' ids are forgotten.
        #expect(try store.journal.commit([record("id-0", minute: 3), record("id-0", minute: 0)]) == [false, true])
        #expect(try await store.dedupe.pruneIngestKeys(before: base + 4) == 51)
        #expect(try store.dedupe.ingestKeyCounts().isEmpty)
    }

    /// The dedupe horizon is absent until saved, then only rises.
    @Test func dedupeHorizonOnlyRises() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        #expect(try store.dedupe.dedupeHorizon() == nil)
        try await store.dedupe.raiseDedupeHorizon(to: 1_000)
        try await store.dedupe.raiseDedupeHorizon(to: 900)
        #expect(try store.dedupe.dedupeHorizon() == 1_000)
        try await store.dedupe.raiseDedupeHorizon(to: 1_001)
        #expect(try StateStore(path: dir.file("state.db")).dedupe.dedupeHorizon() == 1_001)
    }
}
