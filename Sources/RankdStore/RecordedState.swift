import Foundation
import GRDB
import RankdCore

/// A data directory's `state.db` opened read-only, for `rankd replay`: it never writes the
/// daemon's file, and every read of a replay is made in one snapshot (one read transaction), so a
/// replay of a directory the daemon is writing to sees the file as it was at one instant.
public final class RecordedState {
    public let path: String
    private let queue: DatabaseQueue

    /// Opens `state.db` of `dataDirectory` read-only. Throws `StoreError` with the file's path
    /// when it is missing, someone else's, or of a schema this rankd cannot read.
    public init(dataDirectory: String) throws {
        path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("state.db").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError.missingFile(file: path, hint: "pass the daemon's data directory (data_dir in rankd.yaml)")
        }
        queue = try DatabaseQueue(path: path, configuration: DatabaseFiles.configuration(readonly: true))
        let version = try queue.read { try Int.fetchOne($0, sql: "PRAGMA user_version") ?? 0 }
        if version > StateStore.schemaVersion {
            throw StoreError.newerSchema(file: path, found: version, supported: StateStore.schemaVersion)
        }
        if version < 8 {
            throw StoreError.olderSchema(
                file: path, found: version, needed: 8,
                hint: "start this rankd on the directory once (it migrates state.db and then records policies and registries)")
        }
    }

    /// Runs `body` on one snapshot of the file (a deferred read transaction: SQLite's WAL keeps
    /// the daemon's later commits out of it).
    public func snapshot<T>(_ body: (RecordedSnapshot) throws -> T) throws -> T {
        let path = self.path
        return try queue.inDatabase { db in
            try db.execute(sql: "BEGIN DEFERRED TRANSACTION")
            defer { try? db.execute(sql: "ROLLBACK") }
            // The first read fixes the snapshot; the journal is read in it and kept by minute.
            let snapshot = try RecordedSnapshot(db: db, path: path)
            return try body(snapshot)
        }
    }
}

/// One snapshot of a recorded `state.db` (valid only inside `RecordedState.snapshot`).
public struct RecordedSnapshot {
    let db: Database
    public let path: String
    /// Live records still in the journal (not yet folded into minute rows), by minute.
    private let journal: [Int64: [MinuteBucket]]
    /// The minute before which every minute row is also in an hour row (nil: none rolled up).
    public let rolledUpUntil: Int64?

    init(db: Database, path: String) throws {
        self.db = db
        self.path = path
        var journal: [Int64: [MinuteBucket]] = [:]
        for blob in try Data.fetchAll(db, sql: "SELECT buckets FROM live_journal ORDER BY seq") {
            for bucket in try BucketCodec.decode(Array(blob)) { journal[bucket.minute, default: []].append(bucket) }
        }
        self.journal = journal
        rolledUpUntil = try BucketStore.rolledUpUntil(db)
    }

    // MARK: Tallies

    /// The first and last minute with a stored tally (minute rows or the journal); nil when none.
    public func retainedMinutes() throws -> ClosedRange<Int64>? {
        let row = try Row.fetchOne(db, sql: "SELECT MIN(minute) AS first, MAX(minute) AS last FROM minute_buckets")
        var first: Int64? = row?["first"]
        var last: Int64? = row?["last"]
        if let low = journal.keys.min(), let high = journal.keys.max() {
            first = min(first ?? low, low)
            last = max(last ?? high, high)
        }
        guard let first, let last else { return nil }
        return first...last
    }

    /// Every stored tally of the minutes in `minutes` (minute rows, with the journal's records
    /// added to theirs), in no particular order.
    public func minuteBuckets(_ minutes: ClosedRange<Int64>) throws -> [MinuteBucket] {
        var rows: [MinuteBucket] = []
        try BucketStore.forEachBucket(
            db, sql: "SELECT * FROM minute_buckets INDEXED BY minute_buckets_by_minute WHERE minute BETWEEN ? AND ?",
            arguments: [minutes.lowerBound, minutes.upperBound], spanMinutes: 1, file: path
        ) { rows.append($0) }
        let journalled = minutes.flatMap { journal[$0] ?? [] }
        // A row is unique by endpoint, minute and source: merging is needed only with the journal.
        guard !journalled.isEmpty else { return rows }
        var merged: [BucketStore.BucketKey: MinuteBucket] = [:]
        for bucket in rows + journalled { BucketStore.BucketKey.add(bucket, to: &merged) }
        return Array(merged.values)
    }

    /// Every stored tally of the minutes in `minutes`, one row at a time, unordered and unmerged
    /// (a tally's minute and source may come twice: minute row and journal): what a window
    /// load adds up, without holding a day of rows.
    public func forEachMinuteBucket(_ minutes: ClosedRange<Int64>, _ body: (MinuteBucket) throws -> Void) throws {
        try BucketStore.forEachBucket(
            db, sql: "SELECT * FROM minute_buckets INDEXED BY minute_buckets_by_minute WHERE minute BETWEEN ? AND ?",
            arguments: [minutes.lowerBound, minutes.upperBound], spanMinutes: 1, file: path, body)
        for (minute, buckets) in journal where minutes.contains(minute) {
            for bucket in buckets { try body(bucket) }
        }
    }

    /// Hour rows (`spanMinutes` 60) of the hours starting in `minutes`, ordered by endpoint.
    public func hourBuckets(_ minutes: ClosedRange<Int64>) throws -> [MinuteBucket] {
        try BucketStore.buckets(
            db, sql: "SELECT * FROM hour_buckets WHERE minute BETWEEN ? AND ? ORDER BY endpoint_id, minute, source",
            arguments: [minutes.lowerBound, minutes.upperBound], spanMinutes: 60, file: path)
    }

    // MARK: Epochs, policies, registries, overrides, benchmark scores

    /// A published epoch with the demotion memory it left (nil when saved without one).
    public struct RecordedEpoch: Sendable {
        public var epoch: Epoch
        public var demotions: [String: DemotionState]?
    }

    /// What a replay needs of an epoch before its body: when, why, and with which policy.
    public struct EpochHeader: Sendable {
        public var id: Int64
        public var computedAt: Timestamp
        public var trigger: EpochTrigger
        public var policyHash: String
    }

    /// The epochs computed in `range`, oldest first, without their bodies (a day at thousands of
    /// endpoints is hundreds of megabytes decoded: a replay decodes one at a time).
    public func epochHeaders(in range: ClosedRange<Timestamp>) throws -> [EpochHeader] {
        try Row.fetchAll(
            db, sql: "SELECT id, computed_at, trigger, policy_hash FROM epochs WHERE computed_at BETWEEN ? AND ? ORDER BY id",
            arguments: [range.lowerBound.secondsSince1970, range.upperBound.secondsSince1970]
        ).map { row in
            let trigger: String = row["trigger"]
            guard let parsed = EpochTrigger(rawValue: trigger) else {
                throw StoreError.corruptRow(file: path, detail: "epoch \(row["id"] as Int64): unknown trigger \(trigger)")
            }
            return EpochHeader(
                id: row["id"], computedAt: Timestamp(secondsSince1970: row["computed_at"]), trigger: parsed, policyHash: row["policy_hash"])
        }
    }

    /// One epoch with the demotion memory it left; nil when not kept.
    public func epoch(id: Int64) throws -> RecordedEpoch? {
        try Row.fetchOne(db, sql: "SELECT body, demotions FROM epochs WHERE id = ?", arguments: [id]).map { try recorded($0) }
    }

    /// The last epoch computed before `time`, if any is kept.
    public func epoch(before time: Timestamp) throws -> RecordedEpoch? {
        try Row.fetchOne(
            db, sql: "SELECT body, demotions FROM epochs WHERE computed_at < ? ORDER BY id DESC LIMIT 1", arguments: [time.secondsSince1970]
        ).map { try recorded($0) }
    }

    /// When the first and the last kept epoch were computed; nil when history is empty.
    public func epochTimes() throws -> ClosedRange<Timestamp>? {
        guard let row = try Row.fetchOne(db, sql: "SELECT MIN(computed_at) AS first, MAX(computed_at) AS last FROM epochs"),
            let first: Double = row["first"], let last: Double = row["last"]
        else { return nil }
        return Timestamp(secondsSince1970: first)...Timestamp(secondsSince1970: last)
    }

    private func recorded(_ row: Row) throws -> RecordedEpoch {
        let epoch = try DatabaseFiles.decodeEpoch(row["body"], file: path)
        let text: String? = row["demotions"]
        return RecordedEpoch(epoch: epoch, demotions: try text.map { try DatabaseFiles.decode([String: DemotionState].self, $0, file: path) })
    }

    /// A recorded policy's text (the policy file's keys, as JSON) by its hash.
    public func policy(hash: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT body FROM policies WHERE hash = ?", arguments: [hash])
    }

    /// Every registry the daemon ran with, oldest first, with when it was first used.
    public func registryVersions() throws -> [(firstUsed: Timestamp, endpoints: [Endpoint])] {
        try Row.fetchAll(db, sql: "SELECT first_used, body FROM registry_versions ORDER BY first_used, hash").map { row in
            (Timestamp(secondsSince1970: row["first_used"]), try DatabaseFiles.decode([Endpoint].self, row["body"], file: path))
        }
    }

    /// The registry as of the daemon's last start.
    public func currentRegistry() throws -> [Endpoint] {
        try String.fetchAll(db, sql: "SELECT body FROM registry ORDER BY endpoint_id").map { try DatabaseFiles.decode(Endpoint.self, $0, file: path) }
    }

    /// Every operator override ever made, oldest first.
    public func overrides() throws -> [Override] {
        try String.fetchAll(db, sql: "SELECT body FROM overrides ORDER BY id").map { try DatabaseFiles.decode(Override.self, $0, file: path) }
    }

    /// The benchmark files' scores each time they changed, oldest first (none before schema 9).
    public func benchmarkFileSets() throws -> [(at: Timestamp, csv: String)] {
        guard try db.tableExists("benchmark_file_sets") else { return [] }
        return try Row.fetchAll(db, sql: "SELECT at, body FROM benchmark_file_sets ORDER BY id").map {
            (Timestamp(secondsSince1970: $0["at"]), $0["body"])
        }
    }

    /// Every benchmark upload, oldest first: when it was made and the scores it set (as CSV).
    public func benchmarkUploads() throws -> [(at: Timestamp, csv: String)] {
        try Row.fetchAll(db, sql: "SELECT at, body FROM benchmark_uploads ORDER BY id").map {
            (Timestamp(secondsSince1970: $0["at"]), $0["body"])
        }
    }
}
