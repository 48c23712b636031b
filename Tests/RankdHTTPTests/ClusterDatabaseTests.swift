import Foundation
import Logging
import RankdCluster
import RankdConfig
import RankdCore
import RankdTestKit
import Testing

/// The PostgreSQL side of several replicas, against the test cluster (`TestPostgres`): the
/// schema's migrations, the shared log's exactly-once appends, the leader lock and its fencing.
@Suite(.enabled(if: Needs.postgres, "needs the test PostgreSQL: scripts/postgres-test-cluster.sh"))
struct ClusterDatabaseTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A fresh database, and `body` run with `count` replicas' connection pools running on it.
    static func withDatabases(_ count: Int, _ body: ([ClusterDatabase], PostgresAddress, String) async throws -> Void) async throws {
        if let missing = TestPostgres.missing { Issue.record(Comment(rawValue: missing)) }
        let url = try TestPostgres.makeDatabase()
        let address = try PostgresAddress(parsing: url)
        let databases = (0..<count).map { _ in ClusterDatabase(address: address, poolSize: 4, logger: logger) }
        let pools = databases.map { database in Task { await database.run() } }
        defer { for pool in pools { pool.cancel() } }
        try await body(databases, address, String(url.split(separator: "/").last!.split(separator: "?").first!))
    }

    static func record(_ id: String, minute: Int = 0, endpoint: String = "a:m/one") -> (requestID: String, observation: Observation) {
        (id, Observation(endpointID: endpoint, time: Timestamp(secondsSince1970: 1_800_000_000 + Double(minute * 60)), source: .live, outcome: .ok,
                         ttftMilliseconds: 250, latencyMilliseconds: 900))
    }

    @Test func migrationsRunOnceWhenReplicasStartTogetherAndANewerSchemaIsRefused() async throws {
        try await Self.withDatabases(3) { databases, _, name in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for database in databases { group.addTask { try await database.migrate() } }
                try await group.waitForAll()
            }
            #expect(try await databases[0].appliedMigrations() == [1])
            try await databases[1].migrate()
            #expect(try await databases[1].appliedMigrations() == [1])
            try TestPostgres.sql("INSERT INTO rankd_schema_migrations (version) VALUES (99)", database: name)
            await #expect {
                try await databases[2].migrate()
            } throws: { error in
                "\(error)".contains("schema is version 99, newer than this rankd knows (1)")
            }
        }
    }

    /// Two replicas append overlapping batches at once: each request id is accepted by exactly
    /// one of them, the log holds each once, in increasing sequence numbers, and decodes back to
    /// what was sent (outcome, timings, flags).
    @Test func appendsAreCountedOnceAcrossReplicasAndReadBackInCommitOrder() async throws {
        try await Self.withDatabases(2) { databases, _, _ in
            try await databases[0].migrate()
            let batches = (0..<20).map { batch in (0..<50).map { Self.record("req-\(batch * 25 + $0)", minute: batch) } }
            let fresh = try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, batch) in batches.enumerated() {
                    group.addTask {
                        try await databases[index % 2].append(batch, kind: .live, replica: "r\(index % 2)").filter { $0 }.count
                    }
                }
                return try await group.reduce(0, +)
            }
            let unique = Set(batches.flatMap { $0.map(\.requestID) })
            #expect(fresh == unique.count)
            let repeated = try await databases[1].append([Self.record("req-3"), Self.record("new-1"), Self.record("new-1")], kind: .live, replica: "r1")
            #expect(repeated == [false, true, false])
            var seen: [String] = []
            var last: Int64 = 0
            var rows = try await databases[0].log(after: 0, rows: 7)
            while !rows.isEmpty {
                for row in rows {
                    #expect(row.seq > last)
                    last = row.seq
                    seen += row.records.map(\.requestID)
                }
                rows = try await databases[0].log(after: last, rows: 7)
            }
            #expect(seen.count == unique.count + 1)
            #expect(Set(seen) == unique.union(["new-1"]))
            let first = try #require(try await databases[0].log(after: 0, rows: 1).first?.records.first)
            let sent = batches.flatMap { $0 }.first { $0.requestID == first.requestID }!
            #expect(first.observation == sent.observation)
            #expect(try await databases[0].newestSeq() == last)
            _ = try await databases[0].append([Self.record("probe", minute: 3)], kind: .probe, replica: "r0")
            #expect(try await databases[0].log(after: last).first?.kind == .probe)
        }
    }

    /// One leader at a time; an epoch is written only through the leader's live session and term:
    /// a leader whose session was cut can write nothing, and the next one continues.
    @Test func theLeaderLockIsExclusiveAndFencesEveryEpochWrite() async throws {
        try await Self.withDatabases(1) { databases, address, name in
            let database = databases[0]
            try await database.migrate()
            let first = LeaderLock(address: address, replica: "first", logger: Self.logger)
            let second = LeaderLock(address: address, replica: "second", logger: Self.logger)
            #expect(try await first.tryAcquire() == 1)
            #expect(try await second.tryAcquire() == nil)
            #expect(await first.stillHeld())
            let epoch = { (id: Int64) in ClusterDatabase.StoredEpoch(id: id, term: 0, contentHash: "h\(id)", body: [1, 2, 3], demotions: Array("{}".utf8)) }
            try await first.publish(epoch(1), computedAt: 1)
            #expect(try await database.leader()?.replica == "first")

            // The first leader's session is cut (as when its host vanishes): its lock is freed.
            let cut = try TestPostgres.sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'rankd leader lock first'", database: name)
            #expect(cut == "1")
            var secondTerm: Int64?
            for _ in 0..<50 where secondTerm == nil {
                secondTerm = try await second.tryAcquire()
                if secondTerm == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(secondTerm == 2)
            await #expect(throws: ClusterError.self) { try await first.publish(epoch(2), computedAt: 2) }
            #expect(await !first.stillHeld())
            try await second.publish(epoch(2), computedAt: 2)
            // A stale leader that reconnects cannot write either: the lock is held, the term moved on.
            #expect(try await first.tryAcquire() == nil)
            let stored = try await database.epochs(after: 0)
            #expect(stored.map(\.id) == [1, 2])
            #expect(stored.map(\.term) == [1, 2])
            #expect(try await database.newestEpoch()?.id == 2)
            await second.release()
            #expect(try await first.tryAcquire() == 3)
            await first.release()
        }
    }
}
