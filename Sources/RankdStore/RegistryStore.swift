import Foundation
import GRDB
import RankdCore

/// The registry in `state.db`: the endpoints in force, as of the last start, and every registry
/// the daemon ran with, by hash, from its first use (what a replay of the past reads).
public struct RegistryStore: Sendable {
    let pool: DatabasePool
    public let path: String

    /// The hash a registry is kept by: FNV-1a 64 of its endpoints' JSON, in id order.
    public static func hash(_ endpoints: [Endpoint]) throws -> String {
        FNV1a.hexDigest(try DatabaseFiles.json(endpoints.sorted { $0.id < $1.id }).utf8)
    }

    public func save(_ endpoints: [Endpoint], at now: Timestamp) throws {
        let sorted = endpoints.sorted { $0.id < $1.id }
        let hash = try Self.hash(sorted)
        let body = try DatabaseFiles.json(sorted)
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO registry_versions (hash, first_used, body) VALUES (?, ?, ?)",
                arguments: [hash, now.secondsSince1970, body])
            try db.execute(sql: "DELETE FROM registry")
            for endpoint in endpoints {
                try db.execute(
                    sql: "INSERT INTO registry (endpoint_id, model, provider, body, updated_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [endpoint.id, endpoint.model, endpoint.provider, try DatabaseFiles.json(endpoint), now.secondsSince1970])
            }
        }
    }

    /// Every registry the daemon ran with, oldest first: its hash, when it was first used, its endpoints.
    public func versions() throws -> [(hash: String, firstUsed: Timestamp, endpoints: [Endpoint])] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT hash, first_used, body FROM registry_versions ORDER BY first_used, hash").map { row in
                (row["hash"], Timestamp(secondsSince1970: row["first_used"]), try DatabaseFiles.decode([Endpoint].self, row["body"], file: path))
            }
        }
    }

    public func load() throws -> [Endpoint] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM registry ORDER BY endpoint_id").map {
                try DatabaseFiles.decode(Endpoint.self, $0, file: path)
            }
        }
    }
}
