import Foundation
import GRDB
import RankdCore

/// rankd's internal state, `state.db`: registry snapshot, per-endpoint per-minute observation
/// buckets, epoch history and demotion memory. Routers never open this file.
public final class StateStore: Sendable {
    public static let schemaVersion = 7
    public let path: String
    let pool: DatabasePool

    public init(path: String) throws {
        self.path = path
        pool = try DatabaseFiles.openMigrated(
            path: path, supported: Self.schemaVersion, ownTable: "minute_buckets", migrator: Self.migrator)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE registry (
                        endpoint_id TEXT PRIMARY KEY NOT NULL,
                        model TEXT NOT NULL,
                        provider TEXT NOT NULL,
                        body TEXT NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    CREATE TABLE minute_buckets (
                        endpoint_id TEXT NOT NULL,
                        minute INTEGER NOT NULL,
                        source TEXT NOT NULL,
                        outcome_counts TEXT NOT NULL,
                        requests INTEGER NOT NULL,
                        tool_call_requests INTEGER NOT NULL,
                        ttft_ms_histogram TEXT NOT NULL,
                        output_tps_histogram TEXT NOT NULL,
                        PRIMARY KEY (endpoint_id, minute, source)
                    ) WITHOUT ROWID;
                    CREATE INDEX minute_buckets_by_minute ON minute_buckets (minute);
                    CREATE TABLE epochs (
                        id INTEGER PRIMARY KEY NOT NULL,
                        computed_at REAL NOT NULL,
                        policy_hash TEXT NOT NULL,
                        trigger TEXT NOT NULL,
                        body TEXT NOT NULL
                    );
                    CREATE INDEX epochs_by_time ON epochs (computed_at);
                    CREATE TABLE demotions (
                        endpoint_id TEXT PRIMARY KEY NOT NULL,
                        body TEXT NOT NULL
                    );
                    PRAGMA user_version = 1;
                    """)
        }
        migrator.registerMigration("v2 overrides") { db in
            try db.execute(
                sql: """
                    CREATE TABLE overrides (
                        id INTEGER PRIMARY KEY NOT NULL,
                        endpoint_id TEXT NOT NULL,
                        action TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        expires_at REAL NOT NULL,
                        revoked_at REAL,
                        body TEXT NOT NULL
                    );
                    CREATE INDEX overrides_by_end ON overrides (revoked_at, expires_at);
                    PRAGMA user_version = 2;
                    """)
        }
        migrator.registerMigration("v3 ingest keys") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ingest_keys (
                        request_id TEXT PRIMARY KEY NOT NULL,
                        minute INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX ingest_keys_by_minute ON ingest_keys (minute);
                    PRAGMA user_version = 3;
                    """)
        }
        migrator.registerMigration("v4 hour buckets") { db in
            // Minutes older than the short window, rolled up per hour, so a restart rebuilds the
            // long window from ~24 rows per endpoint instead of 1,440. `rollup` holds the minute
            // before which every minute bucket is in `hour_buckets` (one row, absent until the
            // first roll-up).
            try db.execute(
                sql: """
                    CREATE TABLE hour_buckets (
                        endpoint_id TEXT NOT NULL,
                        minute INTEGER NOT NULL,
                        source TEXT NOT NULL,
                        outcome_counts TEXT NOT NULL,
                        requests INTEGER NOT NULL,
                        tool_call_requests INTEGER NOT NULL,
                        ttft_ms_histogram TEXT NOT NULL,
                        output_tps_histogram TEXT NOT NULL,
                        PRIMARY KEY (endpoint_id, minute, source)
                    ) WITHOUT ROWID;
                    CREATE INDEX hour_buckets_by_minute ON hour_buckets (minute);
                    CREATE TABLE rollup (
                        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                        until_minute INTEGER NOT NULL
                    );
                    PRAGMA user_version = 4;
                    """)
        }
        migrator.registerMigration("v5 live journal") { db in
            // Acknowledged live telemetry not yet folded into minute_buckets: one row per group
            // commit, its buckets in one blob (`BucketCodec`). `requests` is how many records
            // the row holds, so counting what is stored needs no decoding.
            try db.execute(
                sql: """
                    CREATE TABLE live_journal (
                        seq INTEGER PRIMARY KEY NOT NULL,
                        requests INTEGER NOT NULL,
                        buckets BLOB NOT NULL
                    );
                    PRAGMA user_version = 5;
                    """)
        }
        migrator.registerMigration("v6 deflated epoch bodies") { db in
            // New history bodies are deflated JSON blobs (`DatabaseFiles.epochBody`); text bodies of
            // earlier versions stay as they are and are still read. The version bump makes an
            // older rankd refuse the file instead of failing on a blob it cannot read.
            try db.execute(sql: "PRAGMA user_version = 6")
        }
        migrator.registerMigration("v7 ingest keys by minute") { db in
            // The dedupe key becomes (minute, request_id), the minute first, in one B-tree: an
            // insert writes one index instead of two, and dropping the oldest minute deletes a
            // contiguous range. A replay is the same record sent again, so it has the same
            // timestamp and minute. At 20,000 endpoints and 100,000 records/s, dropping one
            // minute of ids (6 million) from the two trees held the writer for seconds a minute.
            // `dedupe_horizon` (one row, absent until the key cap first drops a minute): records
            // stamped before its minute are refused, across restarts, since their ids may be gone.
            try db.execute(
                sql: """
                    CREATE TABLE dedupe_horizon (
                        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                        minute INTEGER NOT NULL
                    );
                    CREATE TABLE ingest_keys_v7 (
                        minute INTEGER NOT NULL,
                        request_id TEXT NOT NULL,
                        PRIMARY KEY (minute, request_id)
                    ) WITHOUT ROWID;
                    INSERT INTO ingest_keys_v7 (minute, request_id)
                        SELECT minute, request_id FROM ingest_keys ORDER BY minute, request_id;
                    DROP TABLE ingest_keys;
                    ALTER TABLE ingest_keys_v7 RENAME TO ingest_keys;
                    PRAGMA user_version = 7;
                    """)
        }
        return migrator
    }

    /// Applied migration identifiers, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { try Self.migrator.appliedMigrations($0) }
    }

    // MARK: Registry

    public func saveRegistry(_ endpoints: [Endpoint], at now: Timestamp) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM registry")
            for endpoint in endpoints {
                try db.execute(
                    sql: "INSERT INTO registry (endpoint_id, model, provider, body, updated_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [endpoint.id, endpoint.model, endpoint.provider, try DatabaseFiles.json(endpoint), now.secondsSince1970])
            }
        }
    }

    public func loadRegistry() throws -> [Endpoint] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM registry ORDER BY endpoint_id").map {
                try DatabaseFiles.decode(Endpoint.self, $0, file: path)
            }
        }
    }

    // MARK: Minute buckets

    /// Adds tallies to their stored minutes (creating them as needed), in one transaction.
    public func addBuckets(_ buckets: [MinuteBucket]) throws {
        guard !buckets.isEmpty else { return }
        try pool.write { db in try Self.upsert(buckets, db, file: path) }
    }

    static func upsert(_ buckets: [MinuteBucket], _ db: Database, file path: String) throws {
        guard !buckets.isEmpty else { return }
        // A minute that arrives after its hour was rolled up goes into the hour too.
        let rolledUpUntil = try rolledUpUntil(db)
        var lateHours: [MinuteBucket] = []
        for bucket in buckets {
            try add(bucket, table: "minute_buckets", db, file: path)
            if let rolledUpUntil, bucket.minute < rolledUpUntil {
                lateHours.append(
                    MinuteBucket(
                        endpointID: bucket.endpointID, minute: hourStart(of: bucket.minute), source: bucket.source, tally: bucket.tally,
                        spanMinutes: 60))
            }
        }
        for hour in lateHours { try add(hour, table: "hour_buckets", db, file: path) }
    }

    /// Adds a tally to its row of `table` (minute_buckets or hour_buckets), creating it as needed.
    private static func add(_ bucket: MinuteBucket, table: String, _ db: Database, file path: String) throws {
        var tally = bucket.tally
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM \(table) WHERE endpoint_id = ? AND minute = ? AND source = ?"),
            arguments: [bucket.endpointID, bucket.minute, bucket.source.rawValue])
        {
            tally.add(try Self.tally(from: row, file: path))
        }
        try write(tally, endpointID: bucket.endpointID, minute: bucket.minute, source: bucket.source, table: table, db)
    }

    private static func write(_ tally: Tally, endpointID: String, minute: Int64, source: ObservationSource, table: String, _ db: Database)
        throws
    {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO \(table)
                (endpoint_id, minute, source, outcome_counts, requests, tool_call_requests, ttft_ms_histogram, output_tps_histogram)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            endpointID, minute, source.rawValue, try Self.outcomeJSON(tally), tally.total, tally.toolCallRequests,
            CompactJSON.write(pairs: tally.ttftMilliseconds.sortedPairs), CompactJSON.write(pairs: tally.outputTokensPerSecond.sortedPairs),
        ])
    }

    static func hourStart(of minute: Int64) -> Int64 {
        let (quotient, remainder) = minute.quotientAndRemainder(dividingBy: 60)
        return (remainder < 0 ? quotient - 1 : quotient) * 60
    }

    static func rolledUpUntil(_ db: Database) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT until_minute FROM rollup WHERE id = 1")
    }

    // MARK: Hour roll-up

    /// The minute before which every minute bucket is also in `hour_buckets` (nil: none rolled up).
    public func rolledUpUntil() throws -> Int64? {
        try pool.read { try Self.rolledUpUntil($0) }
    }

    /// Adds the minute buckets before `minute` not rolled up yet to their hours in `hour_buckets`,
    /// in one transaction (an hour row of the current hour is partial, and grows at the next
    /// roll-up). The daemon calls it at every epoch with the short window's first minute, so only
    /// minutes the short window no longer needs are rolled up, an epoch's worth at a time, and a
    /// restart reads minute rows for the short window (and an epoch interval) only. Returns the
    /// hour rows written.
    @discardableResult
    public func rollUp(beforeMinute minute: Int64) throws -> Int {
        let path = self.path
        return try pool.write { db in
            // Journalled minutes first, so the hours rolled up are complete.
            _ = try Self.foldJournal(db, file: path)
            let until = minute
            let from: Int64
            if let done = try Self.rolledUpUntil(db) {
                from = done
            } else {
                guard let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(minute) FROM minute_buckets") else {
                    try db.execute(sql: "INSERT OR REPLACE INTO rollup (id, until_minute) VALUES (1, ?)", arguments: [until])
                    return 0
                }
                from = oldest
            }
            guard from < until else { return 0 }
            var written = 0
            // An hour at a time, read by the minute index and summed in a dictionary: no sort of
            // the rows (ordering them by endpoint made SQLite sort every row of the range).
            for hour in stride(from: Self.hourStart(of: from), to: until, by: 60) {
                var hours: [JournalKey: Tally] = [:]
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT * FROM minute_buckets INDEXED BY minute_buckets_by_minute WHERE minute >= ? AND minute < ?",
                    arguments: [max(hour, from), min(hour + 60, until)])
                while let row = try rows.next() {
                    guard let source = ObservationSource(rawValue: row["source"]) else {
                        throw StoreError.corruptRow(file: path, detail: "unknown source \(String(describing: row["source"] as String?))")
                    }
                    hours[JournalKey(endpointID: row["endpoint_id"], minute: hour, source: source), default: Tally()].add(
                        try Self.tally(from: row, file: path))
                }
                for (key, tally) in hours.sorted(by: { ($0.key.endpointID, $0.key.source.rawValue) < ($1.key.endpointID, $1.key.source.rawValue) }) {
                    try Self.add(
                        MinuteBucket(endpointID: key.endpointID, minute: hour, source: key.source, tally: tally, spanMinutes: 60),
                        table: "hour_buckets", db, file: path)
                    written += 1
                }
            }
            try db.execute(sql: "INSERT OR REPLACE INTO rollup (id, until_minute) VALUES (1, ?)", arguments: [until])
            return written
        }
    }

    /// What a restart needs to rebuild the windows: hour rows for the rolled-up minutes of the
    /// long window (from `sinceMinute`'s hour on), and minute rows from the roll-up's end on. If
    /// the roll-up went past the short window's start (a policy with a longer short window), hour
    /// rows stop at that start's hour and minute rows begin there. No minute is in both.
    public func loadWindowBuckets(sinceMinute: Int64, shortWindowStartMinute: Int64) throws -> [MinuteBucket] {
        var buckets: [MinuteBucket] = []
        try forEachWindowBucket(sinceMinute: sinceMinute, shortWindowStartMinute: shortWindowStartMinute) { buckets.append($0) }
        return buckets
    }

    /// The buckets `loadWindowBuckets` returns, handed to `body` one at a time as they are read,
    /// so a rebuild holds one row, not every bucket of the window: at 20,000 busy endpoints the
    /// array was hundreds of megabytes at start-up. Returns how many were read.
    /// `hourRows: false` reads minute rows only (windows whose spans are shorter than an hour
    /// and read back what leaves them: an hour row does not split into their spans).
    @discardableResult
    public func forEachWindowBucket(
        sinceMinute: Int64, shortWindowStartMinute: Int64, hourRows: Bool = true, _ body: (MinuteBucket) throws -> Void
    ) throws -> Int {
        let path = self.path
        return try pool.read { db in
            let rolled = hourRows ? try Self.rolledUpUntil(db) : nil
            let rolledUntil = rolled ?? sinceMinute
            let boundary = max(
                sinceMinute, rolledUntil <= shortWindowStartMinute ? rolledUntil : Self.hourStart(of: shortWindowStartMinute))
            // No ORDER BY: loading adds tallies, in any order, and ordering by the primary key made
            // SQLite scan every stored minute (48 h) instead of the minute index (3.3 s of a 4 s
            // start-up at 2,000 endpoints).
            var count = try Self.forEachBucket(
                db, sql: "SELECT * FROM hour_buckets INDEXED BY hour_buckets_by_minute WHERE minute >= ? AND minute < ?",
                arguments: [Self.hourStart(of: sinceMinute), boundary], spanMinutes: 60, file: path, body)
            count += try Self.forEachBucket(
                db, sql: "SELECT * FROM minute_buckets INDEXED BY minute_buckets_by_minute WHERE minute >= ?", arguments: [boundary],
                spanMinutes: 1, file: path, body)
            return count
        }
    }

    /// Rolled-up hours from `minute` on (tests and diagnostics).
    public func loadHourBuckets(sinceMinute minute: Int64) throws -> [MinuteBucket] {
        let path = self.path
        return try pool.read { db in
            try Self.buckets(
                db, sql: "SELECT * FROM hour_buckets WHERE minute >= ? ORDER BY endpoint_id, minute, source", arguments: [minute],
                spanMinutes: 60, file: path)
        }
    }

    static func buckets(_ db: Database, sql: String, arguments: StatementArguments, spanMinutes: Int64, file path: String) throws
        -> [MinuteBucket]
    {
        var result: [MinuteBucket] = []
        try forEachBucket(db, sql: sql, arguments: arguments, spanMinutes: spanMinutes, file: path) { result.append($0) }
        return result
    }

    @discardableResult
    static func forEachBucket(
        _ db: Database, sql: String, arguments: StatementArguments, spanMinutes: Int64, file path: String, _ body: (MinuteBucket) throws -> Void
    ) throws -> Int {
        var count = 0
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            guard let source = ObservationSource(rawValue: row["source"]) else {
                throw StoreError.corruptRow(file: path, detail: "unknown source \(String(describing: row["source"] as String?))")
            }
            try body(
                MinuteBucket(
                    endpointID: row["endpoint_id"], minute: row["minute"], source: source, tally: try Self.tally(from: row, file: path),
                    spanMinutes: spanMinutes))
            count += 1
        }
        return count
    }

    /// Minute buckets from `minute` on.
    public func loadBuckets(sinceMinute minute: Int64) throws -> [MinuteBucket] {
        let path = self.path
        return try pool.read { db in
            try Self.buckets(
                db, sql: "SELECT * FROM minute_buckets WHERE minute >= ? ORDER BY endpoint_id, minute, source", arguments: [minute],
                spanMinutes: 1, file: path)
        }
    }

    static func outcomeJSON(_ tally: Tally) throws -> String {
        var counts: [String: Int64] = [:]
        for outcome in Outcome.allCases where tally.count(outcome) > 0 { counts[outcome.rawValue] = tally.count(outcome) }
        return try CompactJSON.write(counts: counts) ?? DatabaseFiles.json(counts)
    }

    static func tally(from row: Row, file: String) throws -> Tally {
        let countsText: String = row["outcome_counts"]
        let counts = try CompactJSON.counts(countsText) ?? DatabaseFiles.decode([String: Int64].self, countsText, file: file)
        var byIndex = [Int64](repeating: 0, count: Outcome.allCases.count)
        for (name, count) in counts {
            guard let outcome = Outcome(rawValue: name) else { throw StoreError.corruptRow(file: file, detail: "unknown outcome \(name)") }
            byIndex[outcome.index] += count
        }
        return Tally(
            outcomeCountsByIndex: byIndex, toolCallRequests: row["tool_call_requests"],
            ttftMilliseconds: LogHistogram(sortedPairs: try histogram(row["ttft_ms_histogram"], file: file)),
            outputTokensPerSecond: LogHistogram(sortedPairs: try histogram(row["output_tps_histogram"], file: file)))
    }

    static func histogram(_ text: String, file: String) throws -> [[Int64]] {
        try CompactJSON.pairs(text) ?? DatabaseFiles.decode([[Int64]].self, text, file: file)
    }

    // MARK: Epochs and demotion memory

    /// Records an epoch in history together with the demotion memory it left, in one transaction.
    public func saveEpoch(_ epoch: Epoch, demotions: [String: DemotionState]) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO epochs (id, computed_at, policy_hash, trigger, body) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    epoch.id, epoch.computedAt.secondsSince1970, epoch.policyHash, epoch.trigger.rawValue, try DatabaseFiles.epochBody(epoch),
                ])
            try db.execute(sql: "DELETE FROM demotions")
            for (id, state) in demotions.sorted(by: { $0.key < $1.key }) where state != DemotionState() {
                try db.execute(
                    sql: "INSERT INTO demotions (endpoint_id, body) VALUES (?, ?)", arguments: [id, try DatabaseFiles.json(state)])
            }
        }
    }

    /// Records an epoch in history without touching the demotion memory (an epoch that was
    /// overtaken by a newer one before it could be published).
    public func saveEpochHistoryOnly(_ epoch: Epoch) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO epochs (id, computed_at, policy_hash, trigger, body) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    epoch.id, epoch.computedAt.secondsSince1970, epoch.policyHash, epoch.trigger.rawValue, try DatabaseFiles.epochBody(epoch),
                ])
        }
    }

    public func latestEpoch() throws -> Epoch? {
        try pool.read { db in
            try DatabaseValue.fetchOne(db, sql: "SELECT body FROM epochs ORDER BY id DESC LIMIT 1").map {
                try DatabaseFiles.decodeEpoch($0, file: path)
            }
        }
    }

    public func epoch(id: Int64) throws -> Epoch? {
        try pool.read { db in
            try DatabaseValue.fetchOne(db, sql: "SELECT body FROM epochs WHERE id = ?", arguments: [id]).map {
                try DatabaseFiles.decodeEpoch($0, file: path)
            }
        }
    }

    /// Epochs computed at or after `since`, oldest first, at most `limit`.
    public func epochs(since: Timestamp, until: Timestamp? = nil, limit: Int = 1_000) throws -> [Epoch] {
        try pool.read { db in
            try DatabaseValue.fetchAll(
                db, sql: "SELECT body FROM epochs WHERE computed_at >= ? AND computed_at <= ? ORDER BY id LIMIT ?",
                arguments: [since.secondsSince1970, until?.secondsSince1970 ?? Double.greatestFiniteMagnitude, limit]
            )
            .map { try DatabaseFiles.decodeEpoch($0, file: path) }
        }
    }

    public func loadDemotions() throws -> [String: DemotionState] {
        try pool.read { db in
            var result: [String: DemotionState] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT endpoint_id, body FROM demotions") {
                result[row["endpoint_id"]] = try DatabaseFiles.decode(DemotionState.self, row["body"], file: path)
            }
            return result
        }
    }

    /// Deletes minute buckets and epochs past their retention. Returns (buckets, epochs) deleted.
    /// `keepingFrom`: no bucket of this minute or later is deleted, whatever the retention (the
    /// windows read back what leaves them, and a span may start before the retention's cut).
    @discardableResult
    public func prune(now: Timestamp, bucketRetentionSeconds: Double, epochRetentionSeconds: Double, keepingFrom: Int64? = nil) throws -> (
        Int, Int
    ) {
        let cut = min(now.adding(seconds: -bucketRetentionSeconds).minute, keepingFrom ?? .max)
        return try pool.write { db in
            try db.execute(sql: "DELETE FROM minute_buckets WHERE minute < ?", arguments: [cut])
            let buckets = db.changesCount
            try db.execute(sql: "DELETE FROM hour_buckets WHERE minute + 59 < ?", arguments: [cut])
            try db.execute(
                sql: "DELETE FROM epochs WHERE computed_at < ? AND id < (SELECT MAX(id) FROM epochs)",
                arguments: [now.secondsSince1970 - epochRetentionSeconds])
            return (buckets, db.changesCount)
        }
    }

    // MARK: Operator overrides (kept forever: they are the audit trail)

    /// Records a new override; an override of the same endpoint still in force is ended, with a
    /// note saying which one superseded it. One transaction.
    public func addOverride(_ request: OverrideRequest, now: Timestamp) throws -> Override {
        try pool.write { db in
            let id = (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM overrides") ?? 0) + 1
            for var current in try Self.overrides(
                db, sql: "WHERE endpoint_id = ? AND revoked_at IS NULL AND expires_at > ?",
                arguments: [request.endpointID, now.secondsSince1970], file: path)
            {
                current.revokedAt = now
                current.revokeNote = "superseded by override \(id)"
                try Self.save(current, db)
            }
            let override = Override(
                id: id, endpointID: request.endpointID, action: request.action, note: request.note, author: request.author, createdAt: now,
                expiresAt: request.expiresAt(now: now))
            try Self.save(override, db)
            return override
        }
    }

    /// Ends an override before its expiry. Nil when there is no such override; an override that
    /// already ended is returned unchanged, with `changed` false.
    public func revokeOverride(id: Int64, note: String?, now: Timestamp) throws -> (override: Override, changed: Bool)? {
        try pool.write { db in
            guard var override = try Self.overrides(db, sql: "WHERE id = ?", arguments: [id], file: path).first else { return nil }
            guard override.isActive(at: now) else { return (override, false) }
            override.revokedAt = now
            override.revokeNote = note
            try Self.save(override, db)
            return (override, true)
        }
    }

    /// Overrides in force at `now`, oldest first.
    public func activeOverrides(at now: Timestamp) throws -> [Override] {
        try pool.read { db in
            try Self.overrides(
                db, sql: "WHERE revoked_at IS NULL AND expires_at > ? ORDER BY id", arguments: [now.secondsSince1970], file: path)
        }
    }

    /// Every override, newest first, at most `limit`.
    public func allOverrides(limit: Int = 1_000) throws -> [Override] {
        try pool.read { db in
            try Self.overrides(db, sql: "ORDER BY id DESC LIMIT ?", arguments: [limit], file: path)
        }
    }

    private static func overrides(_ db: Database, sql: String, arguments: StatementArguments, file: String) throws -> [Override] {
        try String.fetchAll(db, sql: "SELECT body FROM overrides \(sql)", arguments: arguments).map {
            try DatabaseFiles.decode(Override.self, $0, file: file)
        }
    }

    private static func save(_ override: Override, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO overrides (id, endpoint_id, action, created_at, expires_at, revoked_at, body)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                override.id, override.endpointID, override.action.rawValue, override.createdAt.secondsSince1970,
                override.expiresAt.secondsSince1970, override.revokedAt?.secondsSince1970, try DatabaseFiles.json(override),
            ])
    }

    public func count(table: String) throws -> Int {
        precondition(["registry", "minute_buckets", "hour_buckets", "live_journal", "epochs", "demotions", "overrides", "ingest_keys"].contains(table))
        return try pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }
}
