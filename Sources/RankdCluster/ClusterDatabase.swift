import Foundation
import Logging
import NIOCore
import PostgresNIO
import RankdConfig
import RankdCore

/// What several replicas share in PostgreSQL (`storage.postgres`): the log of accepted records
/// (each request id once, whichever replica took it), the published epochs, the leader's term
/// and the replicas seen. Versioned migrations, as for `state.db`. Every call is bounded in time:
/// with the database away, callers get `ClusterError.unavailable` in seconds, not a hang.
public final class ClusterDatabase: Sendable {
    public let address: PostgresAddress
    let client: PostgresClient
    let logger: Logger
    /// Longest a call may take before it counts as the database being away.
    let callTimeout: Duration

    public init(address: PostgresAddress, poolSize: Int, logger: Logger, callTimeout: Duration = .seconds(5)) {
        self.address = address
        self.logger = logger
        self.callTimeout = callTimeout
        var configuration = PostgresClient.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password, database: address.database,
            tls: Self.clientTLS(address.tls))
        configuration.options.maximumConnections = poolSize
        configuration.options.connectTimeout = .seconds(3)
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    static func clientTLS(_ mode: PostgresAddress.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// Runs the connection pool until cancelled (the cluster service's task).
    public func run() async { await client.run() }

    // MARK: Migrations

    /// Advisory lock keys (one namespace: the 64-bit FNV-1a of a name).
    static let migrationKey = Int64(bitPattern: FNV1a.hash("rankd.migrations"))
    static let logKey = Int64(bitPattern: FNV1a.hash("rankd.log"))
    public static let leaderKey = Int64(bitPattern: FNV1a.hash("rankd.leader"))

    /// Each version's statements, applied once in order, in one transaction per run.
    static let migrations: [(version: Int, statements: [String])] = [
        (
            1,
            [
                // Accepted telemetry and probe results, in commit order (appends take `logKey` first).
                """
                CREATE TABLE rankd_log (
                    seq BIGSERIAL PRIMARY KEY, kind SMALLINT NOT NULL, replica TEXT NOT NULL, records INTEGER NOT NULL,
                    body BYTEA NOT NULL, accepted_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """,
                "CREATE INDEX rankd_log_accepted_at ON rankd_log (accepted_at)",
                // Request ids seen within the dedupe window, by the minute of their records.
                "CREATE TABLE rankd_ingest_keys (request_id TEXT PRIMARY KEY, minute BIGINT NOT NULL)",
                "CREATE INDEX rankd_ingest_keys_minute ON rankd_ingest_keys (minute)",
                // Published epochs: deflated JSON (as in state.db), the demotion memory each left, and
                // the leader's overrides and benchmark upload in force (so a new leader has them).
                """
                CREATE TABLE rankd_epochs (
                    id BIGINT PRIMARY KEY, term BIGINT NOT NULL, computed_at DOUBLE PRECISION NOT NULL, content_hash TEXT NOT NULL,
                    body BYTEA NOT NULL, demotions BYTEA NOT NULL, admin BYTEA NOT NULL, published_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """,
                "CREATE TABLE rankd_leader (singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton), term BIGINT NOT NULL, replica TEXT NOT NULL, since TIMESTAMPTZ NOT NULL)",
                // This database's identity: a replica's log position is only good for the database it was read from.
                "CREATE TABLE rankd_cluster (id TEXT NOT NULL)",
                "INSERT INTO rankd_cluster (id) VALUES (md5(random()::text || clock_timestamp()::text))",
                """
                CREATE TABLE rankd_replicas (
                    name TEXT PRIMARY KEY, role TEXT NOT NULL, epoch_id BIGINT, log_lag BIGINT NOT NULL, url TEXT,
                    started_at TIMESTAMPTZ NOT NULL, seen_at TIMESTAMPTZ NOT NULL)
                """,
            ]
        )
    ]

    public static var schemaVersion: Int { migrations.last!.version }

    /// Applies the migrations not yet applied; several replicas starting at once take turns.
    /// A database migrated by a newer rankd is refused with what to do.
    public func migrate() async throws {
        try await bounded {
            try await self.client.withTransaction(logger: self.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationKey))", logger: self.logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS rankd_schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                    logger: self.logger)
                var applied: Set<Int> = []
                for try await version in try await connection.query("SELECT version FROM rankd_schema_migrations", logger: self.logger)
                    .decode(Int.self)
                {
                    applied.insert(version)
                }
                if let newest = applied.max(), newest > Self.schemaVersion {
                    throw ClusterError.schemaTooNew(found: newest, known: Self.schemaVersion)
                }
                for migration in Self.migrations where !applied.contains(migration.version) {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                    }
                    try await connection.query(
                        "INSERT INTO rankd_schema_migrations (version) VALUES (\(migration.version))", logger: self.logger)
                }
            }
        }
    }

    /// The database's identity (made by the first migration).
    public func clusterID() async throws -> String {
        try await bounded {
            for try await id in try await self.client.query("SELECT id FROM rankd_cluster LIMIT 1", logger: self.logger).decode(String.self) {
                return id
            }
            throw ClusterError.unavailable("rankd_cluster is empty")
        }
    }

    /// Versions applied, in order (tests, `rankd check-config`).
    public func appliedMigrations() async throws -> [Int] {
        try await bounded {
            var versions: [Int] = []
            for try await version in try await self.client.query("SELECT version FROM rankd_schema_migrations ORDER BY version", logger: self.logger)
                .decode(Int.self)
            {
                versions.append(version)
            }
            return versions
        }
    }

    // MARK: The shared log

    public enum LogKind: Int16, Sendable {
        /// Live telemetry, deduplicated by request id across replicas.
        case live = 1
        /// The leader's probe results (no request ids to deduplicate).
        case probe = 2
    }

    /// Appends accepted records in one transaction: live records' request ids go to
    /// `rankd_ingest_keys` first (a duplicate of any replica's record is dropped there), the
    /// fresh ones to one log row, and listeners are notified at commit. Returns, per record,
    /// whether it was new. Committed means durable in PostgreSQL.
    public func append(_ records: [(requestID: String, observation: Observation)], kind: LogKind, replica: String) async throws -> [Bool] {
        guard !records.isEmpty else { return [] }
        return try await bounded {
            try await self.client.withTransaction(logger: self.logger) { connection in
                var fresh: [Bool] = []
                fresh.reserveCapacity(records.count)
                var accepted: [(requestID: String, observation: Observation)] = []
                accepted.reserveCapacity(records.count)
                switch kind {
                case .probe:
                    fresh = Array(repeating: true, count: records.count)
                    accepted = records
                case .live:
                    let ids = records.map(\.requestID)
                    let minutes = records.map(\.observation.time.minute)
                    var new: Set<String> = []
                    new.reserveCapacity(records.count)
                    let rows = try await connection.query(
                        """
                        INSERT INTO rankd_ingest_keys (request_id, minute) SELECT * FROM unnest(\(ids)::text[], \(minutes)::bigint[])
                        ON CONFLICT DO NOTHING RETURNING request_id
                        """, logger: self.logger)
                    for try await id in rows.decode(String.self) { new.insert(id) }
                    for record in records {
                        // The first of a batch's repeats is the one kept.
                        let isNew = new.remove(record.requestID) != nil
                        fresh.append(isNew)
                        if isNew { accepted.append(record) }
                    }
                }
                if !accepted.isEmpty {
                    let body = ByteBuffer(bytes: LogCodec.encode(accepted))
                    // Sequence numbers in commit order: a reader that has seen seq N never finds
                    // a smaller one committed later.
                    try await connection.query("SELECT pg_advisory_xact_lock(\(Self.logKey))", logger: self.logger)
                    try await connection.query(
                        "INSERT INTO rankd_log (kind, replica, records, body) VALUES (\(kind.rawValue), \(replica), \(accepted.count), \(body))",
                        logger: self.logger)
                    try await connection.query("SELECT pg_notify('rankd_log', '')", logger: self.logger)
                }
                return fresh
            }
        }
    }

    /// One row of the shared log.
    public struct LogRow: Sendable {
        public var seq: Int64
        public var kind: LogKind
        public var records: [(requestID: String, observation: Observation)]
    }

    /// Log rows after `seq`, oldest first, at most `rows` of them. A damaged row is an error
    /// naming its sequence number.
    public func log(after seq: Int64, rows limit: Int = 64) async throws -> [LogRow] {
        try await bounded {
            var rows: [LogRow] = []
            let result = try await self.client.query(
                "SELECT seq, kind, body FROM rankd_log WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)", logger: self.logger)
            for try await (seq, kind, body) in result.decode((Int64, Int16, ByteBuffer).self) {
                guard let kind = LogKind(rawValue: kind) else { throw ClusterError.damagedLog(seq: seq, detail: "kind \(kind)") }
                do {
                    rows.append(LogRow(seq: seq, kind: kind, records: try LogCodec.decode(body.readableBytesView)))
                } catch {
                    throw ClusterError.damagedLog(seq: seq, detail: "\(error)")
                }
            }
            return rows
        }
    }

    /// The newest sequence number in the log (0 when empty).
    public func newestSeq() async throws -> Int64 {
        try await bounded {
            for try await seq in try await self.client.query("SELECT coalesce(max(seq), 0) FROM rankd_log", logger: self.logger).decode(Int64.self) {
                return seq
            }
            return 0
        }
    }

    // MARK: Epochs

    /// A published epoch as the leader stored it.
    public struct StoredEpoch: Sendable {
        public var id: Int64
        public var term: Int64
        public var contentHash: String
        /// Deflated JSON, as `state.db` keeps history.
        public var body: [UInt8]
        /// The demotion memory the epoch left (JSON).
        public var demotions: [UInt8]
        /// The leader's overrides and admin API benchmark scores when it published (JSON).
        public var admin: [UInt8]

        public init(id: Int64, term: Int64, contentHash: String, body: [UInt8], demotions: [UInt8], admin: [UInt8] = Array("{}".utf8)) {
            self.id = id
            self.term = term
            self.contentHash = contentHash
            self.body = body
            self.demotions = demotions
            self.admin = admin
        }
    }

    /// Epochs after `id`, oldest first, at most `limit`.
    public func epochs(after id: Int64, limit: Int = 50) async throws -> [StoredEpoch] {
        try await bounded {
            var epochs: [StoredEpoch] = []
            let rows = try await self.client.query(
                "SELECT id, term, content_hash, body, demotions, admin FROM rankd_epochs WHERE id > \(id) ORDER BY id LIMIT \(limit)",
                logger: self.logger)
            for try await (id, term, hash, body, demotions, admin) in rows.decode((Int64, Int64, String, ByteBuffer, ByteBuffer, ByteBuffer).self) {
                epochs.append(
                    StoredEpoch(
                        id: id, term: term, contentHash: hash, body: Array(buffer: body), demotions: Array(buffer: demotions),
                        admin: Array(buffer: admin)))
            }
            return epochs
        }
    }

    /// The newest epoch's id and when PostgreSQL stored it (nil when none yet).
    public func newestEpoch() async throws -> (id: Int64, publishedAt: Double)? {
        try await bounded {
            for try await (id, at) in try await self.client.query(
                "SELECT id, extract(epoch FROM published_at)::float8 FROM rankd_epochs ORDER BY id DESC LIMIT 1", logger: self.logger
            ).decode((Int64, Double).self) {
                return (id, at)
            }
            return nil
        }
    }

    // MARK: Replicas

    /// One replica as it last reported itself.
    public struct Replica: Sendable, Equatable {
        public var name: String
        public var role: String
        public var epochID: Int64?
        public var logLag: Int64
        public var url: String?
        public var startedAt: Double
        public var seenAt: Double
    }

    /// Records this replica as seen now.
    public func heartbeat(name: String, role: String, epochID: Int64?, logLag: Int64, url: String?, startedAt: Double) async throws {
        try await bounded {
            try await self.client.query(
                """
                INSERT INTO rankd_replicas (name, role, epoch_id, log_lag, url, started_at, seen_at)
                VALUES (\(name), \(role), \(epochID), \(logLag), \(url), to_timestamp(\(startedAt)), now())
                ON CONFLICT (name) DO UPDATE SET role = excluded.role, epoch_id = excluded.epoch_id, log_lag = excluded.log_lag,
                    url = excluded.url, started_at = excluded.started_at, seen_at = excluded.seen_at
                """, logger: self.logger)
        }
    }

    /// Replicas seen in the last `seconds`, by name.
    public func replicas(seenWithin seconds: Double) async throws -> [Replica] {
        try await bounded {
            var replicas: [Replica] = []
            let rows = try await self.client.query(
                """
                SELECT name, role, epoch_id, log_lag, url, extract(epoch FROM started_at)::float8, extract(epoch FROM seen_at)::float8
                FROM rankd_replicas WHERE seen_at > now() - make_interval(secs => \(seconds)) ORDER BY name
                """, logger: self.logger)
            for try await (name, role, epochID, lag, url, started, seen) in rows.decode(
                (String, String, Int64?, Int64, String?, Double, Double).self)
            {
                replicas.append(Replica(name: name, role: role, epochID: epochID, logLag: lag, url: url, startedAt: started, seenAt: seen))
            }
            return replicas
        }
    }

    /// The leader's term and name as recorded (nil before any leader).
    public func leader() async throws -> (term: Int64, replica: String)? {
        try await bounded {
            for try await (term, replica) in try await self.client.query("SELECT term, replica FROM rankd_leader", logger: self.logger)
                .decode((Int64, String).self)
            {
                return (term, replica)
            }
            return nil
        }
    }

    // MARK: Upkeep (the leader)

    /// Drops log rows accepted more than `logSeconds` ago, request ids of minutes before
    /// `keysBeforeMinute`, epochs published more than `epochSeconds` ago (never the newest) and
    /// replicas unseen for a day. Returns the log rows dropped.
    @discardableResult
    public func prune(logSeconds: Double, keysBeforeMinute: Int64, epochSeconds: Double) async throws -> Int {
        try await bounded {
            var dropped = 0
            for try await count in try await self.client.query(
                "WITH gone AS (DELETE FROM rankd_log WHERE accepted_at < now() - make_interval(secs => \(logSeconds)) RETURNING 1) SELECT count(*)::bigint FROM gone",
                logger: self.logger
            ).decode(Int64.self) {
                dropped = Int(count)
            }
            try await self.client.query("DELETE FROM rankd_ingest_keys WHERE minute < \(keysBeforeMinute)", logger: self.logger)
            try await self.client.query(
                """
                DELETE FROM rankd_epochs WHERE published_at < now() - make_interval(secs => \(epochSeconds))
                AND id < (SELECT max(id) FROM rankd_epochs)
                """, logger: self.logger)
            try await self.client.query("DELETE FROM rankd_replicas WHERE seen_at < now() - interval '1 day'", logger: self.logger)
            return dropped
        }
    }

    /// One round trip, bounded by `limit`: whether PostgreSQL answers now.
    public func ping(limit: Duration = .seconds(2)) async -> Bool {
        (try? await ClusterError.bounded(limit) {
            try await self.client.query("SELECT 1", logger: self.logger)
            return true
        }) ?? false
    }

    // MARK: Bounds

    /// Runs `work`, failing with `ClusterError.unavailable` when it errs or outlasts `callTimeout`.
    func bounded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await ClusterError.bounded(callTimeout, work)
    }
}
