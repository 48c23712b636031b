import Foundation
import GRDB
import RankdCore

/// The registry in `state.db`: the endpoints in force, as of the last start.
public struct RegistryStore: Sendable {
    let pool: DatabasePool
    public let path: String

    public func save(_ endpoints: [Endpoint], at now: Timestamp) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM registry")
            for endpoint in endpoints {
                try db.execute(
                    sql: "INSERT INTO registry (endpoint_id, model, provider, body, updated_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [endpoint.id, endpoint.model, endpoint.provider, try DatabaseFiles.json(endpoint), now.secondsSince1970])
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
