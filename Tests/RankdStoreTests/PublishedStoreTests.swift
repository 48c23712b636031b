import Foundation
import GRDB
import RankdCore
import RankdStore
import RankdTestKit
import Synchronization
import Testing

@Suite struct PublishedStoreTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    let models = ["acme/alpha", "acme/beta", "meta-llama/llama-3.3-70b-instruct"]
    let providers = ["p1", "p2", "p3", "p4"]

    var endpoints: [Endpoint] { models.flatMap { model in providers.map { Build.endpoint($0, model: model) } } }

    /// An epoch whose every score encodes its id, so a reader can tell epochs apart row by row.
    func epoch(_ id: Int64) -> Epoch {
        let marker = Double(id % 1_000) / 1_000
        return Epoch(
            id: id, computedAt: start.adding(seconds: Double(id)), policyHash: "test", trigger: .scheduled,
            models: models.map { model in
                ModelRanking(
                    model: model,
                    endpoints: providers.enumerated().map { index, provider in
                        EndpointRanking(
                            rank: index + 1, endpointID: "\(provider):\(model)", provider: provider, baseURL: "http://x",
                            upstreamModel: model,
                            score: marker, status: .ok, components: ["reliability": marker], samples: Samples(probe: id, live: 0),
                            reasons: [],
                            demotedUntil: nil,
                            explanation: Explanation(
                                weights: [:], missingComponents: [], shortWindow: [:], longWindow: [:], stats: EndpointStats()))
                    })
            })
    }

    @Test func freshFileHasTheReaderSchema() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try PublishedStore(path: dir.file("rankings.db"))
        try store.publish(epoch(1), endpoints: endpoints, at: start, retentionSeconds: 3_600)
        let db = try DatabaseQueue(path: dir.file("rankings.db"))
        try db.read { db in
            #expect(try Int.fetchOne(db, sql: "PRAGMA user_version") == 2)
            #expect(try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'") == "2")
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_rankings") == 12)
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM endpoints WHERE quantization = 'fp8'") == 12)
            let top = try Row.fetchOne(
                db, sql: "SELECT endpoint_id, rank, status FROM current_rankings WHERE model = ? ORDER BY rank LIMIT 1",
                arguments: [models[2]])!
            #expect(top["endpoint_id"] == "p1:\(models[2])")
        }
        let reopened = try PublishedStore(path: dir.file("rankings.db"))
        #expect(try reopened.appliedMigrations() == ["v1", "v2 traffic share"])
        #expect(try reopened.currentEpochID() == 1)
    }

    @Test func oldEpochsLeaveThePublishedFileButTheCurrentOneStays() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try PublishedStore(path: dir.file("rankings.db"))
        for id in 1...10 as ClosedRange<Int64> {
            try store.publish(epoch(id), endpoints: endpoints, at: start.adding(seconds: Double(id)), retentionSeconds: 4)
        }
        #expect(try store.count(table: "epochs") == 5)
        #expect(try store.count(table: "rankings") == 5 * 12)
        #expect(try store.currentEpochID() == 10)
    }

    /// A router's reads (at least 10,000) while at least 500 epochs are published, 200 a second:
    /// every read sees one whole epoch, and none waits on the writer. Reports the worst read.
    @Test func readersNeverSeeHalfAnEpochDuring1000Publishes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("rankings.db")
        let store = try PublishedStore(path: path)
        try store.publish(epoch(1), endpoints: endpoints, at: start, retentionSeconds: 60)

        struct Seen: Sendable {
            var reads = 0
            var bad: [String] = []
            var epochs = Set<Int64>()
            var worstRead: Duration = .zero
        }
        let seen = Mutex(Seen())
        let stop = Atomic(false)
        let reader = Thread {
            guard
                let queue = try? DatabaseQueue(
                    path: path,
                    configuration: {
                        var c = Configuration(); c.readonly = true; return c
                    }())
            else {
                seen.withLock { $0.bad.append("reader could not open the file") }
                return
            }
            while !stop.load(ordering: .acquiring) {
                do {
                    let started = ContinuousClock.now
                    let rows = try queue.read { try Row.fetchAll($0, sql: "SELECT epoch_id, score FROM current_rankings") }
                    let took = ContinuousClock.now - started
                    let ids = Set(rows.map { $0["epoch_id"] as Int64 })
                    let scores = Set(rows.map { $0["score"] as Double })
                    seen.withLock { state in
                        state.reads += 1
                        state.worstRead = max(state.worstRead, took)
                        state.epochs.formUnion(ids)
                        if rows.count != 12 || ids.count != 1 || scores.count != 1 || scores.first != Double(ids.first! % 1_000) / 1_000 {
                            state.bad.append("read \(rows.count) rows of epochs \(ids.sorted()) with scores \(scores.sorted())")
                        }
                    }
                } catch {
                    seen.withLock { $0.bad.append("read failed: \(error)") }
                }
            }
        }
        reader.start()
        // At least 500 publishes, and on until the reader has made 10,000 reads (bounded). The
        // writer loop (one fsync per publish) runs on a Dispatch thread, not on the concurrency
        // pool the other suites share.
        let endpoints = self.endpoints
        let start = self.start
        let suite = self
        let id: Int64 = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        var id: Int64 = 2
                        while id <= 501 || (seen.withLock { $0.reads } < 10_000 && id < 50_000) {
                            try store.publish(
                                suite.epoch(id), endpoints: endpoints, at: start.adding(seconds: Double(id)), retentionSeconds: 60)
                            id += 1
                            // 200 publishes a second (the daemon publishes every few seconds at most),
                            // without an fsync storm that would slow every other suite running beside it.
                            usleep(5_000)
                        }
                        stop.store(true, ordering: .releasing)
                        return id
                    })
            }
        }
        while !reader.isFinished { try await Task.sleep(for: .milliseconds(1)) }
        let result = seen.withLock { $0 }
        #expect(result.bad.isEmpty, "\(result.bad.prefix(5))")
        print(
            "reader: \(result.reads) reads of current_rankings during \(id - 2) publishes; \(result.epochs.count) distinct epochs seen; worst read \(result.worstRead); mixed or empty reads: \(result.bad.count)"
        )
        #expect(result.reads >= 10_000, "the reader ran \(result.reads) times")
        #expect(result.epochs.count > 10, "the reader saw \(result.epochs.count) distinct epochs")
        #expect(try store.currentEpochID() == id - 1)
    }

    @Test func publishedReaderReadsCurrentRankings() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try PublishedStore(path: dir.file("rankings.db"))
        try store.publish(epoch(3), endpoints: endpoints, at: start, retentionSeconds: 60)
        let rows = try PublishedReader.currentRankings(path: dir.file("rankings.db"), model: models[0])
        #expect(rows.map(\.rank) == [1, 2, 3, 4])
        #expect(rows.allSatisfy { $0.epochID == 3 && $0.model == models[0] })
        #expect(rows.allSatisfy { $0.components == ["reliability": 0.003] }, "\(rows.map(\.components))")
    }
}
