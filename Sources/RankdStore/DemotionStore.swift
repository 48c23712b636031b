import Foundation
import GRDB
import RankdCore

/// What the daemon remembers of each endpoint's standing in `state.db`: the demotion memory the
/// last epoch left (hysteresis across restarts) and the operators' overrides.
public struct DemotionStore: Sendable {
    let pool: DatabasePool
    public let path: String

    /// The demotion memory of the last epoch saved.
    public func load() throws -> [String: DemotionState] {
        try pool.read { db in
            var result: [String: DemotionState] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT endpoint_id, body FROM demotions") {
                result[row["endpoint_id"]] = try DatabaseFiles.decode(DemotionState.self, row["body"], file: path)
            }
            return result
        }
    }

    /// Replaces the demotion memory (inside the transaction that saves its epoch).
    static func replace(_ demotions: [String: DemotionState], _ db: Database) throws {
        try db.execute(sql: "DELETE FROM demotions")
        for (id, state) in demotions.sorted(by: { $0.key < $1.key }) where state != DemotionState() {
            try db.execute(sql: "INSERT INTO demotions (endpoint_id, body) VALUES (?, ?)", arguments: [id, try DatabaseFiles.json(state)])
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

    /// Takes another replica's overrides as they are (same ids), so this one has them if it leads
    /// next. Overrides are kept forever, so nothing here is deleted.
    public func mirror(_ overrides: [Override]) throws {
        guard !overrides.isEmpty else { return }
        try pool.write { db in
            for override in overrides { try Self.save(override, db) }
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
}
