import Foundation
import GRDB
import RankdCore
import RankdPlatform

/// Live telemetry in `state.db`, counted exactly once: each group committed with its dedupe keys
/// (`ingest_keys`) into the journal (`live_journal`), and the journal's fold into
/// `minute_buckets`. In the daemon only the window ledger holds it; the dedupe keys' upkeep is
/// `DedupeKeys`.
public struct LiveJournal: Sendable {
    let pool: DatabasePool
    public let path: String

    // MARK: Live telemetry (exactly once)

    /// Commits live observations in one transaction: each `request_id` is recorded (keyed by the
    /// minute of its timestamp) and those not seen before are written to the live journal, their
    /// minute tallies in one row, which `fold()` later adds to `minute_buckets` (a minute
    /// bucket touched by every batch is then written once per fold, not once per batch: at
    /// 20,000 endpoints nearly every record of a batch is its own bucket). Returns, per input,
    /// whether it was new (false: a duplicate, not counted).
    public func commit(_ records: [(requestID: String, observation: Observation)]) throws -> [Bool] {
        let path = self.path
        return try pool.write { db in try Self.commit(records, db, file: path) }
    }

    static func commit(_ records: [(requestID: String, observation: Observation)], _ db: Database, file path: String) throws -> [Bool] {
        guard !records.isEmpty else { return [] }
        WorkerPriority.lower()
        let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO ingest_keys (request_id, minute) VALUES (?, ?)")
        var fresh: [Bool] = []
        fresh.reserveCapacity(records.count)
        var accepted: [Observation] = []
        accepted.reserveCapacity(records.count)
        for (requestID, observation) in records {
            try insert.execute(arguments: [requestID, observation.time.minute])
            let isNew = db.changesCount > 0
            fresh.append(isNew)
            if isNew { accepted.append(observation) }
        }
        if !accepted.isEmpty {
            try db.cachedStatement(sql: "INSERT INTO live_journal (requests, buckets) VALUES (?, ?)").execute(arguments: [
                accepted.count, Data(BucketCodec.encode(MinuteBucket.fold(accepted, sorted: false))),
            ])
        }
        return fresh
    }

    // MARK: Live journal

    /// Adds every journalled live tally to `minute_buckets` and empties the journal, in one
    /// transaction (so each record is counted once, whatever happens). The daemon's window ledger
    /// calls it every fold interval, at start-up and at shutdown; the windows' read-back and each
    /// hour roll-up fold first in their own transactions. Returns the records folded.
    /// `recordsPerPass`: see `foldRecordsPerPass` (tests make it small).
    @discardableResult
    public func fold(recordsPerPass: Int = LiveJournal.foldRecordsPerPass) throws -> Int {
        let path = self.path
        return try pool.write { db in try Self.fold(db, file: path, recordsPerPass: recordsPerPass) }
    }

    /// `fold` on GRDB's writer queue, suspending instead of holding a concurrency thread.
    @discardableResult
    public func foldAsync() async throws -> Int {
        let path = self.path
        return try await pool.write { db in try Self.fold(db, file: path) }
    }

    /// Journalled records per pass of the fold: above this, the journal is read in several passes,
    /// each merging and writing the endpoints of one partition only (`BucketCodec.partition`).
    /// Merged tallies are unpacked, about a kilobyte each for a busy minute: at 20,000 endpoints
    /// under ingest one pass held about 20,000-40,000 of them at once, every fold, and the heap kept
    /// that much for good. A pass over blobs it skips costs their bounds checks only.
    public static let foldRecordsPerPass = 50_000
    static let foldMaximumPasses = 8

    static func fold(_ db: Database, file path: String, recordsPerPass: Int = foldRecordsPerPass) throws -> Int {
        WorkerPriority.lower()
        guard let last = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM live_journal") else { return 0 }
        let requests = try Int.fetchOne(db, sql: "SELECT coalesce(sum(requests), 0) FROM live_journal WHERE seq <= ?", arguments: [last]) ?? 0
        let passes = min(foldMaximumPasses, max(1, requests / max(1, recordsPerPass)))
        for pass in 0..<passes {
            var merged: [BucketStore.BucketKey: MinuteBucket] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT seq, buckets FROM live_journal WHERE seq <= ? ORDER BY seq", arguments: [last])
            while let row = try rows.next() {
                let blob: Data = row["buckets"]
                let buckets: [MinuteBucket]
                do {
                    buckets = try BucketCodec.decode(Array(blob), partition: pass, of: passes)
                } catch {
                    throw StoreError.corruptRow(file: path, detail: "live_journal seq \(row["seq"] as Int64): \(error)")
                }
                for bucket in buckets { BucketStore.BucketKey.add(bucket, to: &merged) }
            }
            try BucketStore.upsert(Array(merged.values), db, file: path)
        }
        try db.execute(sql: "DELETE FROM live_journal WHERE seq <= ?", arguments: [last])
        return requests
    }

    /// Minute buckets from `minute` on with the journal's records added, without folding it (a
    /// read: tests and diagnostics see what is stored while the daemon runs, without touching
    /// what it will fold).
    public func loadBucketsIncludingJournal(sinceMinute minute: Int64) throws -> [MinuteBucket] {
        let path = self.path
        return try pool.read { db in
            var merged: [BucketStore.BucketKey: MinuteBucket] = [:]
            for bucket in try BucketStore.buckets(
                db, sql: "SELECT * FROM minute_buckets WHERE minute >= ?", arguments: [minute], spanMinutes: 1, file: path)
            {
                BucketStore.BucketKey.add(bucket, to: &merged)
            }
            for blob in try Data.fetchAll(db, sql: "SELECT buckets FROM live_journal ORDER BY seq") {
                for bucket in try BucketCodec.decode(Array(blob)) where bucket.minute >= minute { BucketStore.BucketKey.add(bucket, to: &merged) }
            }
            return merged.values.sorted { ($0.endpointID, $0.minute, $0.source.rawValue) < ($1.endpointID, $1.minute, $1.source.rawValue) }
        }
    }

    /// Live requests stored: in minute buckets and still in the journal (tests and diagnostics).
    public func storedLiveRequests() throws -> Int {
        try pool.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source = 'live')
                         + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)
                    """) ?? 0
        }
    }

    /// `commit` on GRDB's writer queue, suspending instead of blocking a concurrency thread
    /// through the commit's fsync.
    public func commitAsync(_ records: [(requestID: String, observation: Observation)]) async throws -> [Bool] {
        let path = self.path
        return try await pool.write { db in try Self.commit(records, db, file: path) }
    }
}

/// The dedupe keys' upkeep in `state.db`: how many are kept per minute, the horizon below which
/// ids may be gone, and pruning (the ingest pipeline keeps them within the window and the cap).
/// The keys themselves are written by `LiveJournal.commit`, with their records.
public struct DedupeKeys: Sendable {
    let pool: DatabasePool
    public let path: String

    /// The minute before which request ids may have been dropped by the key cap (records stamped
    /// earlier cannot be counted exactly once), or nil if the cap never dropped any.
    public func dedupeHorizon() throws -> Int64? {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT minute FROM dedupe_horizon WHERE id = 1") }
    }

    /// Raises the dedupe horizon to `minute` (never lowers it), durably. The daemon saves it before
    /// it deletes the ids of the minutes before, so a crash between cannot leave a replay of a
    /// forgotten minute looking new after the restart.
    public func raiseDedupeHorizon(to minute: Int64) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO dedupe_horizon (id, minute) VALUES (1, ?)
                    ON CONFLICT (id) DO UPDATE SET minute = max(minute, excluded.minute)
                    """, arguments: [minute])
        }
    }

    /// Request ids kept for deduplication, per minute of their timestamps.
    public func ingestKeyCounts() throws -> [Int64: Int] {
        try pool.read { db in
            var counts: [Int64: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT minute, COUNT(*) AS n FROM ingest_keys GROUP BY minute") {
                counts[row["minute"]] = row["n"]
            }
            return counts
        }
    }

    /// Forgets request ids of minutes before `minute`, at most `limit` of them (the oldest first),
    /// in one transaction on GRDB's writer queue. Returns how many were deleted: fewer than
    /// `limit` means none before `minute` is left. The daemon deletes in pieces, so telemetry
    /// commits run between them instead of waiting for a whole minute of ids (millions under a
    /// flood).
    @discardableResult
    public func pruneIngestKeys(before minute: Int64, limit: Int = .max) async throws -> Int {
        precondition(limit > 0, "limit must be positive")
        return try await pool.write { db in
            // The last key of the piece, then a range delete up to it along the primary key (an
            // `IN (SELECT ... LIMIT)` delete measured ten times slower).
            if limit < .max,
                let last = try Row.fetchOne(
                    db, sql: "SELECT minute, request_id FROM ingest_keys WHERE minute < ? ORDER BY minute, request_id LIMIT 1 OFFSET ?",
                    arguments: [minute, limit - 1])
            {
                try db.execute(
                    sql: "DELETE FROM ingest_keys WHERE (minute, request_id) <= (?, ?)",
                    arguments: [last["minute"] as Int64, last["request_id"] as String])
            } else {
                try db.execute(sql: "DELETE FROM ingest_keys WHERE minute < ?", arguments: [minute])
            }
            return db.changesCount
        }
    }
}
