import Foundation
import GRDB
import RankdCore

/// Epoch history in `state.db`: every epoch computed, as published, for `GET /v1/history` and
/// `rankd history`; saved with the demotion memory it left, in one transaction.
public struct EpochHistory: Sendable {
    let pool: DatabasePool
    public let path: String

    /// Records an epoch in history together with the demotion memory it left, in one transaction.
    /// The epoch keeps the memory it left too, so a replay can start from any epoch.
    public func save(_ epoch: Epoch, demotions: [String: DemotionState]) throws {
        let kept = demotions.filter { $0.value != DemotionState() }
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO epochs (id, computed_at, policy_hash, trigger, body, demotions) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    epoch.id, epoch.computedAt.secondsSince1970, epoch.policyHash, epoch.trigger.rawValue, try DatabaseFiles.epochBody(epoch),
                    try DatabaseFiles.json(kept),
                ])
            try DemotionStore.replace(demotions, db)
        }
    }

    /// The demotion memory epoch `id` left; nil when it is not in history or was saved without
    /// one (before schema 8, or overtaken before publication).
    public func demotions(afterEpoch id: Int64) throws -> [String: DemotionState]? {
        try pool.read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT demotions FROM epochs WHERE id = ?", arguments: [id]) else { return nil }
            return try DatabaseFiles.decode([String: DemotionState].self, text, file: path)
        }
    }

    /// Records an epoch in history without touching the demotion memory (an epoch that was
    /// overtaken by a newer one before it could be published).
    public func saveHistoryOnly(_ epoch: Epoch) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO epochs (id, computed_at, policy_hash, trigger, body) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    epoch.id, epoch.computedAt.secondsSince1970, epoch.policyHash, epoch.trigger.rawValue, try DatabaseFiles.epochBody(epoch),
                ])
        }
    }

    /// Records the policy an epoch's `policy_hash` names (once per hash, with when it was first
    /// used), so a hash in history can always be read back as the policy it was.
    public func recordPolicy(_ policy: Policy, at now: Timestamp) throws {
        let body = String(decoding: try Policy.fileJSON(policy), as: UTF8.self)
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO policies (hash, first_used, body) VALUES (?, ?, ?)",
                arguments: [policy.hash, now.secondsSince1970, body])
        }
    }

    /// A policy by its hash, as JSON in the policy file's keys (`Policy.fileJSON`: read it with
    /// the policy loader), and when it was first used; nil for a hash never recorded.
    public func policy(hash: String) throws -> (json: String, firstUsed: Timestamp)? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT first_used, body FROM policies WHERE hash = ?", arguments: [hash]) else {
                return nil
            }
            return (row["body"], Timestamp(secondsSince1970: row["first_used"]))
        }
    }

    public func latest() throws -> Epoch? {
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

    /// Deletes epochs computed before `now - retentionSeconds`, never the newest. Returns how many.
    @discardableResult
    public func prune(now: Timestamp, retentionSeconds: Double) throws -> Int {
        try pool.write { db in
            try db.execute(
                sql: "DELETE FROM epochs WHERE computed_at < ? AND id < (SELECT MAX(id) FROM epochs)",
                arguments: [now.secondsSince1970 - retentionSeconds])
            return db.changesCount
        }
    }
}
