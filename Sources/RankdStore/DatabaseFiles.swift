import Foundation
import GRDB
import RankdCore
import RankdPlatform

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

    /// An epoch's explained JSON, handed to `body` in pieces: the bytes `json(epoch)` gives (sorted
    /// keys), but with each model encoded on its own, so encoding never holds the whole epoch's
    /// JSON tree at once (JSONEncoder builds one per call: hundreds of MB at 20,000 endpoints).
    static func forEachEpochJSONPiece(_ epoch: Epoch, _ body: ([UInt8]) throws -> Void) throws {
        func text(_ text: String) throws { try body(Array(text.utf8)) }
        try text("{\"computedAt\":")
        try body(Array(try encoder.encode(epoch.computedAt)))
        try text(",\"id\":")
        try body(Array(try encoder.encode(epoch.id)))
        try text(",\"models\":[")
        for (index, model) in epoch.models.enumerated() {
            if index > 0 { try text(",") }
            try body(Array(try encoder.encode(model)))
        }
        try text("],\"policyHash\":")
        try body(Array(try encoder.encode(epoch.policyHash)))
        try text(",\"trigger\":")
        try body(Array(try encoder.encode(epoch.trigger)))
        try text("}")
    }

    /// An epoch's explained JSON as one string (tests compare it with `json(epoch)`).
    static func epochJSON(_ epoch: Epoch) throws -> String {
        var bytes: [UInt8] = []
        try forEachEpochJSONPiece(epoch) { bytes += $0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An epoch's history body as stored in `state.db` (schema 6 on): its JSON deflated
    /// (`Deflater`), fed one model at a time, so neither the whole JSON nor a copy of it is held.
    static func epochBody(_ epoch: Epoch) throws -> Data {
        let deflater = try Deflater()
        try forEachEpochJSONPiece(epoch) { try deflater.append($0) }
        return Data(try deflater.finish())
    }

    /// Largest history body rankd inflates (far above the largest epoch rankd writes; a damaged or
    /// hostile row cannot make it allocate more).
    static let epochBodyLimit = 1 << 30

    /// Reads a history body: deflated JSON (a blob, schema 6 on) or the plain JSON text that
    /// earlier versions wrote (still read, so no migration rewrites the history).
    static func decodeEpoch(_ value: DatabaseValue, file: String) throws -> Epoch {
        switch value.storage {
        case .blob(let data):
            let json: [UInt8]
            do {
                json = try Zlib.inflate(data, limit: epochBodyLimit)
            } catch {
                throw StoreError.corruptRow(file: file, detail: "epoch body: \(error)")
            }
            do {
                return try JSONDecoder().decode(Epoch.self, from: Data(json))
            } catch {
                throw StoreError.corruptRow(file: file, detail: "\(error)")
            }
        case .string(let text):
            return try decode(Epoch.self, text, file: file)
        default:
            throw StoreError.corruptRow(file: file, detail: "epoch body is neither deflated JSON nor JSON text")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError.corruptRow(file: file, detail: "\(error)")
        }
    }
}
