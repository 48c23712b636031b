import Foundation
import GRDB
import RankdCore

/// The published `rankings.db` that routers read. Each epoch is written in one transaction, so a
/// reader (WAL) sees the previous epoch or the new one, never half of one, and is never blocked.
/// The reader schema is documented in `docs/sqlite-readers.md`; its version is `PRAGMA user_version`
/// and `meta.schema_version`.
public final class PublishedStore: Sendable {
    public static let schemaVersion = 2
    public let path: String
    private let pool: DatabasePool

    public init(path: String) throws {
        self.path = path
        pool = try DatabaseFiles.openMigrated(path: path, supported: Self.schemaVersion, ownTable: "rankings", migrator: Self.migrator)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL
                    );
                    CREATE TABLE epochs (
                        id INTEGER PRIMARY KEY NOT NULL,
                        computed_at INTEGER NOT NULL,
                        policy_hash TEXT NOT NULL,
                        trigger TEXT NOT NULL
                    );
                    CREATE TABLE rankings (
                        epoch_id INTEGER NOT NULL REFERENCES epochs(id) ON DELETE CASCADE,
                        model TEXT NOT NULL,
                        rank INTEGER NOT NULL,
                        endpoint_id TEXT NOT NULL,
                        provider TEXT NOT NULL,
                        base_url TEXT NOT NULL,
                        upstream_model TEXT NOT NULL,
                        score REAL NOT NULL,
                        status TEXT NOT NULL,
                        reasons TEXT NOT NULL,
                        demoted_until INTEGER,
                        tool_call_success REAL,
                        reliability REAL,
                        throughput REAL,
                        latency REAL,
                        benchmark REAL,
                        probe_samples INTEGER NOT NULL,
                        live_samples INTEGER NOT NULL,
                        ttft_p50_ms REAL,
                        output_tokens_per_second_p50 REAL,
                        PRIMARY KEY (epoch_id, model, rank)
                    ) WITHOUT ROWID;
                    CREATE INDEX rankings_by_endpoint ON rankings (endpoint_id, epoch_id);
                    CREATE TABLE endpoints (
                        endpoint_id TEXT PRIMARY KEY NOT NULL,
                        model TEXT NOT NULL,
                        provider TEXT NOT NULL,
                        base_url TEXT NOT NULL,
                        upstream_model TEXT NOT NULL,
                        quantization TEXT NOT NULL,
                        prompt_usd_per_million_tokens REAL NOT NULL,
                        completion_usd_per_million_tokens REAL NOT NULL,
                        request_usd REAL NOT NULL,
                        context_length INTEGER,
                        supported_parameters TEXT NOT NULL,
                        data_collection TEXT NOT NULL,
                        zdr INTEGER NOT NULL,
                        regions TEXT NOT NULL,
                        enabled INTEGER NOT NULL
                    );
                    CREATE INDEX endpoints_by_model ON endpoints (model);
                    CREATE VIEW current_rankings AS
                        SELECT r.model, r.rank, r.endpoint_id, r.provider, r.base_url, r.upstream_model, r.score, r.status,
                               r.reasons, r.demoted_until, r.tool_call_success, r.reliability, r.throughput, r.latency,
                               r.benchmark, r.probe_samples, r.live_samples, r.ttft_p50_ms, r.output_tokens_per_second_p50,
                               e.id AS epoch_id, e.computed_at, e.policy_hash
                        FROM rankings r JOIN epochs e ON e.id = r.epoch_id
                        WHERE r.epoch_id = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'current_epoch_id');
                    INSERT INTO meta (key, value) VALUES ('schema_version', '1');
                    PRAGMA user_version = 1;
                    """)
        }
        migrator.registerMigration("v2 traffic share") { db in
            // Rows published before shares read 0: a reader then falls back to rank order.
            try db.execute(
                sql: """
                    ALTER TABLE rankings ADD COLUMN traffic_share REAL NOT NULL DEFAULT 0;
                    DROP VIEW current_rankings;
                    CREATE VIEW current_rankings AS
                        SELECT r.model, r.rank, r.endpoint_id, r.provider, r.base_url, r.upstream_model, r.score, r.status,
                               r.reasons, r.demoted_until, r.tool_call_success, r.reliability, r.throughput, r.latency,
                               r.benchmark, r.probe_samples, r.live_samples, r.ttft_p50_ms, r.output_tokens_per_second_p50,
                               e.id AS epoch_id, e.computed_at, e.policy_hash, r.traffic_share
                        FROM rankings r JOIN epochs e ON e.id = r.epoch_id
                        WHERE r.epoch_id = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'current_epoch_id');
                    UPDATE meta SET value = '2' WHERE key = 'schema_version';
                    PRAGMA user_version = 2;
                    """)
        }
        return migrator
    }

    public func appliedMigrations() throws -> [String] {
        try pool.read { try Self.migrator.appliedMigrations($0) }
    }

    /// Publishes an epoch and the registry it ranked, in one transaction, and drops published
    /// epochs older than `retentionSeconds` (the current one always stays).
    public func publish(_ epoch: Epoch, endpoints: [Endpoint], at now: Timestamp, retentionSeconds: Double) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO epochs (id, computed_at, policy_hash, trigger) VALUES (?, ?, ?, ?)",
                arguments: [epoch.id, Int64(epoch.computedAt.secondsSince1970.rounded(.down)), epoch.policyHash, epoch.trigger.rawValue])
            try db.execute(sql: "DELETE FROM rankings WHERE epoch_id = ?", arguments: [epoch.id])
            let insert = try db.makeStatement(
                sql: """
                    INSERT INTO rankings (epoch_id, model, rank, endpoint_id, provider, base_url, upstream_model, score, status,
                        reasons, demoted_until, tool_call_success, reliability, throughput, latency, benchmark, probe_samples,
                        live_samples, ttft_p50_ms, output_tokens_per_second_p50, traffic_share)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for model in epoch.models {
                for entry in model.endpoints {
                    let values: [(any DatabaseValueConvertible)?] = [
                        epoch.id, model.model, entry.rank, entry.endpointID, entry.provider, entry.baseURL, entry.upstreamModel,
                        entry.score, entry.status.rawValue, entry.reasons.joined(separator: ","),
                        entry.demotedUntil.map { Int64($0.secondsSince1970.rounded(.up)) },
                        entry.components[Component.toolCallSuccess.rawValue], entry.components[Component.reliability.rawValue],
                        entry.components[Component.throughput.rawValue], entry.components[Component.latency.rawValue],
                        entry.components[Component.benchmark.rawValue], entry.samples.probe, entry.samples.live,
                        entry.explanation.stats.ttftP50Milliseconds, entry.explanation.stats.outputTokensPerSecondP50,
                        entry.trafficShare,
                    ]
                    try insert.execute(arguments: StatementArguments(values))
                }
            }
            try db.execute(sql: "DELETE FROM endpoints")
            for endpoint in endpoints {
                try db.execute(
                    sql: """
                        INSERT INTO endpoints (endpoint_id, model, provider, base_url, upstream_model, quantization,
                            prompt_usd_per_million_tokens, completion_usd_per_million_tokens, request_usd, context_length,
                            supported_parameters, data_collection, zdr, regions, enabled)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        endpoint.id, endpoint.model, endpoint.provider, endpoint.baseURL, endpoint.upstreamModel, endpoint.quantization,
                        endpoint.pricing.promptPerMillionTokensUSD, endpoint.pricing.completionPerMillionTokensUSD,
                        endpoint.pricing.perRequestUSD, endpoint.contextLength, endpoint.supportedParameters.joined(separator: ","),
                        endpoint.dataCollection.rawValue, endpoint.zeroDataRetention, endpoint.regions.joined(separator: ","),
                        endpoint.enabled,
                    ])
            }
            for (key, value) in [
                ("current_epoch_id", String(epoch.id)), ("current_computed_at", RFC3339.format(epoch.computedAt)),
                ("policy_hash", epoch.policyHash), ("published_at", RFC3339.format(now)),
            ] {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
            }
            let cutoff = Int64((now.secondsSince1970 - retentionSeconds).rounded(.down))
            try db.execute(
                sql: "DELETE FROM rankings WHERE epoch_id IN (SELECT id FROM epochs WHERE computed_at < ? AND id != ?)",
                arguments: [cutoff, epoch.id])
            try db.execute(sql: "DELETE FROM epochs WHERE computed_at < ? AND id != ?", arguments: [cutoff, epoch.id])
        }
    }

    /// Id of the epoch `current_rankings` shows, if any.
    public func currentEpochID() throws -> Int64? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'current_epoch_id'").flatMap { Int64($0) }
        }
    }

    public func count(table: String) throws -> Int {
        precondition(["epochs", "rankings", "endpoints", "meta"].contains(table))
        return try pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }
}
