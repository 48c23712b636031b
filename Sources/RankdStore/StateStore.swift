import Foundation
import GRDB
import RankdCore

/// rankd's own file, `state.db` (routers never open it): one `DatabasePool`, its migrations, and
/// a store per concern over it, each handed to the part of the daemon that needs it:
/// `registry` (the endpoints in force), `buckets` (minute and hour tallies: the windows' past),
/// `journal` (live telemetry committed exactly once with its dedupe keys, and folded), `dedupe`
/// (the dedupe keys' upkeep), `history` (epochs), `demotions` (demotion memory and operator
/// overrides), `benchmarks` (benchmark scores set through the admin API, and their uploads).
public final class StateStore: Sendable {
    public static let schemaVersion = 9
    public let path: String
    let pool: DatabasePool
    public let registry: RegistryStore
    public let buckets: BucketStore
    public let journal: LiveJournal
    public let dedupe: DedupeKeys
    public let history: EpochHistory
    public let demotions: DemotionStore
    public let benchmarks: BenchmarkStore

    public init(path: String) throws {
        self.path = path
        pool = try DatabaseFiles.openMigrated(
            path: path, supported: Self.schemaVersion, ownTable: "minute_buckets", migrator: Self.migrator)
        registry = RegistryStore(pool: pool, path: path)
        buckets = BucketStore(pool: pool, path: path)
        journal = LiveJournal(pool: pool, path: path)
        dedupe = DedupeKeys(pool: pool, path: path)
        history = EpochHistory(pool: pool, path: path)
        demotions = DemotionStore(pool: pool, path: path)
        benchmarks = BenchmarkStore(pool: pool, path: path)
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
            // timestamp and minute. Under a heavy flood, dropping a minute of ids from two trees
            // held the writer for seconds a minute.
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
        migrator.registerMigration("v8 benchmark scores and policies") { db in
            try db.execute(
                sql: """
                    CREATE TABLE benchmark_scores (
                        endpoint_id TEXT NOT NULL,
                        benchmark TEXT NOT NULL,
                        score REAL NOT NULL,
                        source TEXT NOT NULL,
                        measured_at REAL NOT NULL,
                        upload_id INTEGER NOT NULL,
                        PRIMARY KEY (endpoint_id, benchmark)
                    ) WITHOUT ROWID;
                    CREATE TABLE benchmark_uploads (
                        id INTEGER PRIMARY KEY NOT NULL,
                        at REAL NOT NULL,
                        author TEXT,
                        note TEXT,
                        scores INTEGER NOT NULL,
                        replaced INTEGER NOT NULL,
                        body TEXT NOT NULL
                    );
                    CREATE TABLE policies (
                        hash TEXT PRIMARY KEY NOT NULL,
                        first_used REAL NOT NULL,
                        body TEXT NOT NULL
                    );
                    CREATE TABLE registry_versions (
                        hash TEXT PRIMARY KEY NOT NULL,
                        first_used REAL NOT NULL,
                        body TEXT NOT NULL
                    );
                    ALTER TABLE epochs ADD COLUMN demotions TEXT;
                    PRAGMA user_version = 8;
                    """)
        }
        migrator.registerMigration("v9 benchmark file sets") { db in
            // The benchmark files' scores as the daemon read them, a row each time they changed
            // (start-up, reload): what a replay weighs, beside the admin API's uploads.
            try db.execute(
                sql: """
                    CREATE TABLE benchmark_file_sets (
                        id INTEGER PRIMARY KEY NOT NULL,
                        at REAL NOT NULL,
                        hash TEXT NOT NULL,
                        body TEXT NOT NULL
                    );
                    PRAGMA user_version = 9;
                    """)
        }
        return migrator
    }

    /// Applied migration identifiers, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { try Self.migrator.appliedMigrations($0) }
    }

    /// Rows of one of the file's tables (tests and diagnostics).
    public func count(table: String) throws -> Int {
        precondition(
            [
                "registry", "minute_buckets", "hour_buckets", "live_journal", "epochs", "demotions", "overrides", "ingest_keys",
                "benchmark_scores", "benchmark_uploads", "policies", "registry_versions",
            ].contains(table))
        return try pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }
}
