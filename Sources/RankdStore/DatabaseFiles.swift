import Foundation
import GRDB
import RankdCore

/// Opening rankd's SQLite files: WAL (DatabasePool turns it on), a busy timeout, and a schema
/// version check before migrating.
enum DatabaseFiles {
    static func configuration(readonly: Bool = false) -> Configuration {
        var configuration = Configuration()
        configuration.readonly = readonly
        configuration.busyMode = .timeout(5)
        configuration.label = "rankd"
        if !readonly {
            // WAL with synchronous FULL: a committed transaction (an acknowledged telemetry batch,
            // a published epoch) survives a process crash and a power loss; NORMAL would survive
            // only the former. The cost is one fsync per commit, which group commit amortises.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        }
        return configuration
    }

    /// Opens a read-write pool, refuses a newer or foreign file, and applies pending migrations.
    static func openMigrated(path: String, supported: Int, ownTable: String, migrator: DatabaseMigrator) throws -> DatabasePool {
        let pool = try openPool(path: path)
        try checkVersion(pool, path: path, supported: supported, ownTable: ownTable)
        try migrator.migrate(pool)
        return pool
    }

    static func openPool(path: String, readonly: Bool = false) throws -> DatabasePool {
        if !readonly {
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        }
        return try DatabasePool(path: path, configuration: configuration(readonly: readonly))
    }

    /// Refuses a file written by a newer rankd, or a SQLite file that is someone else's.
    static func checkVersion(_ pool: DatabasePool, path: String, supported: Int, ownTable: String) throws {
        try pool.read { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            if version > supported { throw StoreError.newerSchema(file: path, found: version, supported: supported) }
            if version == 0 {
                let tables = try String.fetchAll(
                    db,
                    sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
                if !tables.isEmpty && !tables.contains(ownTable) { throw StoreError.notRankdDatabase(file: path) }
            }
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// An epoch's history body: the bytes `json(epoch)` gives (sorted keys), but with each model
    /// encoded on its own and the pieces joined, so encoding never holds the whole epoch's JSON
    /// tree at once (JSONEncoder builds one per call: hundreds of MB at 20,000 endpoints).
    static func epochJSON(_ epoch: Epoch) throws -> String {
        var bytes: [UInt8] = []
        func append(_ text: String) { bytes += Array(text.utf8) }
        append("{\"computedAt\":")
        bytes += try encoder.encode(epoch.computedAt)
        append(",\"id\":")
        bytes += try encoder.encode(epoch.id)
        append(",\"models\":[")
        for (index, model) in epoch.models.enumerated() {
            if index > 0 { append(",") }
            bytes += try encoder.encode(model)
        }
        append("],\"policyHash\":")
        bytes += try encoder.encode(epoch.policyHash)
        append(",\"trigger\":")
        bytes += try encoder.encode(epoch.trigger)
        append("}")
        return String(decoding: bytes, as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError.corruptRow(file: file, detail: "\(error)")
        }
    }
}
