import Foundation
import GRDB
import RankdCore

/// Benchmark scores set through the admin API, in `state.db`: the set in force (each with its
/// source and date) and every upload that set one.
public struct BenchmarkStore: Sendable {
    let pool: DatabasePool
    public let path: String

    /// Replaces the whole set with `scores` (an empty one clears it) and records the upload, in
    /// one transaction.
    public func replace(_ scores: [BenchmarkScore], author: String?, note: String?, now: Timestamp) throws -> BenchmarkUpload {
        try pool.write { db in
            let id = (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM benchmark_uploads") ?? 0) + 1
            let replaced = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM benchmark_scores") ?? 0
            try db.execute(sql: "DELETE FROM benchmark_scores")
            for score in scores {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO benchmark_scores (endpoint_id, benchmark, score, source, measured_at, upload_id)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [score.endpointID, score.benchmark, score.score, score.source, score.measuredAt.secondsSince1970, id])
            }
            let upload = BenchmarkUpload(
                id: id, at: now, author: author, note: note, scores: scores.count, replaced: replaced, body: Self.csv(scores))
            try db.execute(
                sql: "INSERT INTO benchmark_uploads (id, at, author, note, scores, replaced, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [id, now.secondsSince1970, author, note, upload.scores, replaced, upload.body])
            return upload
        }
    }

    /// Takes another replica's admin API benchmark scores with the upload that set them (same
    /// id), when that upload is newer than this replica's last one; one transaction.
    public func mirror(_ scores: [BenchmarkScore], upload: BenchmarkUpload) throws {
        try pool.write { db in
            let newest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM benchmark_uploads") ?? 0
            guard upload.id > newest else { return }
            try db.execute(sql: "DELETE FROM benchmark_scores")
            for score in scores {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO benchmark_scores (endpoint_id, benchmark, score, source, measured_at, upload_id)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [score.endpointID, score.benchmark, score.score, score.source, score.measuredAt.secondsSince1970, upload.id])
            }
            try db.execute(
                sql: "INSERT INTO benchmark_uploads (id, at, author, note, scores, replaced, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [upload.id, upload.at.secondsSince1970, upload.author, upload.note, upload.scores, upload.replaced, upload.body])
        }
    }

    /// The set in force, by endpoint and benchmark.
    public func scores() throws -> [BenchmarkScore] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM benchmark_scores ORDER BY endpoint_id, benchmark").map { row in
                BenchmarkScore(
                    endpointID: row["endpoint_id"], benchmark: row["benchmark"], score: row["score"], source: row["source"],
                    measuredAt: Timestamp(secondsSince1970: row["measured_at"]))
            }
        }
    }

    /// Uploads, newest first.
    public func uploads(limit: Int = 100) throws -> [BenchmarkUpload] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM benchmark_uploads ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                BenchmarkUpload(
                    id: row["id"], at: Timestamp(secondsSince1970: row["at"]), author: row["author"], note: row["note"],
                    scores: row["scores"], replaced: row["replaced"], body: row["body"])
            }
        }
    }

    /// Records the benchmark files' scores as read (start-up, reload) when they differ from the
    /// last set recorded, so a replay weighs the scores that were in force. Returns whether a
    /// row was written.
    @discardableResult
    public func recordFileSet(_ scores: [BenchmarkScore], at now: Timestamp) throws -> Bool {
        let body = Self.csv(scores.sorted { ($0.endpointID, $0.benchmark) < ($1.endpointID, $1.benchmark) })
        let hash = FNV1a.hexDigest(body.utf8)
        return try pool.write { db in
            let last = try String.fetchOne(db, sql: "SELECT hash FROM benchmark_file_sets ORDER BY id DESC LIMIT 1")
            guard last != hash else { return false }
            try db.execute(sql: "INSERT INTO benchmark_file_sets (at, hash, body) VALUES (?, ?, ?)", arguments: [now.secondsSince1970, hash, body])
            return true
        }
    }

    /// Scores as the CSV the files use (dates as RFC 3339 days when whole, else instants).
    static func csv(_ scores: [BenchmarkScore]) -> String {
        func cell(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        let lines = scores.map { score in
            [score.endpointID, score.benchmark, "\(score.score)", score.source, RFC3339.format(score.measuredAt)].map(cell).joined(separator: ",")
        }
        return (["endpoint_id,benchmark,score,source,date"] + lines).joined(separator: "\n") + "\n"
    }
}
