import Foundation
import GRDB

/// Reads `current_rankings` from a published `rankings.db`, read-only, as a router would.
public enum PublishedReader {
    public struct Row: Sendable, Equatable {
        public var model: String
        public var rank: Int
        public var endpointID: String
        public var provider: String
        public var score: Double
        public var status: String
        public var reasons: String
        public var epochID: Int64
        public var computedAt: Int64
        /// Components by name (only those the endpoint has).
        public var components: [String: Double]
        /// The endpoint's intended share of its model's traffic (nil in a schema 1 file).
        public var trafficShare: Double?
    }

    static let componentColumns = ["tool_call_success", "reliability", "throughput", "latency", "benchmark"]

    public static func currentRankings(path: String, model: String? = nil) throws -> [Row] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError.notRankdDatabase(file: path)
        }
        let queue = try DatabaseQueue(path: path, configuration: DatabaseFiles.configuration(readonly: true))
        return try queue.read { db in
            // Every column, so a schema 1 file (no traffic_share; read-only, so not migrated) still reads.
            let sql =
                "SELECT * FROM current_rankings"
                + (model == nil ? "" : " WHERE model = ?") + " ORDER BY model, rank"
            return try GRDB.Row.fetchAll(db, sql: sql, arguments: model.map { [$0] } ?? []).map { row in
                Row(
                    model: row["model"], rank: row["rank"], endpointID: row["endpoint_id"], provider: row["provider"], score: row["score"],
                    status: row["status"], reasons: row["reasons"], epochID: row["epoch_id"], computedAt: row["computed_at"],
                    components: componentColumns.reduce(into: [:]) { components, name in components[name] = row[name] as Double? },
                    trafficShare: row["traffic_share"] as Double?)
            }
        }
    }
}
