import Foundation
import GRDB
import RankdCore
import RankdTestKit
import Testing

import RankdPlatform
@testable import RankdStore

/// The fast readers of the bucket columns agree with JSONDecoder on everything rankd writes, and
/// step aside (nil, so the full decoder decides) on anything else.
@Suite struct CompactJSONTests {
    @Test func readsWhatTheStoreWritesExactlyAsJSONDecoderDoes() throws {
        var random = SplitMix64(seed: 5)
        for _ in 0..<200 {
            var histogram = LogHistogram()
            for _ in 0..<Int(random.uniform() * 50) { histogram.record(random.uniform() * 5_000) }
            let text = try DatabaseFiles.json(histogram.sortedPairs)
            #expect(CompactJSON.pairs(text) == (try JSONDecoder().decode([[Int64]].self, from: Data(text.utf8))))
            var counts: [String: Int64] = [:]
            for outcome in Outcome.allCases where random.uniform() < 0.4 { counts[outcome.rawValue] = Int64(random.uniform() * 1e12) }
            let countsText = try DatabaseFiles.json(counts)
            #expect(CompactJSON.counts(countsText) == counts)
            // The writers produce JSONEncoder's exact bytes, so stored rows do not change.
            #expect(CompactJSON.write(pairs: histogram.sortedPairs) == text)
            #expect(CompactJSON.write(counts: counts) == countsText)
        }
        #expect(CompactJSON.pairs("[]") == [])
        #expect(CompactJSON.pairs(" [ [ -3 , 4 ] , [5,6] ] ") == [[-3, 4], [5, 6]])
        #expect(CompactJSON.counts("{}") == [:])
        #expect(CompactJSON.write(pairs: []) == "[]" && CompactJSON.write(counts: [:]) == "{}")
        #expect(CompactJSON.write(counts: ["needs \"escaping\"": 1]) == nil)
    }

    @Test func anythingElseIsLeftToTheFullDecoder() {
        for text in ["", "[", "[[1,2]", "[[1,2],]", "[[1,2,3]]", "[[1.5,2]]", "[[1,2]] x", "[[12345678901234567890,1]]", "{\"a\":1}", "null"] {
            #expect(CompactJSON.pairs(text) == nil, "\(text)")
        }
        for text in ["", "{", "{\"ok\":1", "{\"ok\":1,}", "{\"o\\u006b\":1}", "{\"ok\":\"1\"}", "{\"ok\":1.5}", "{ok:1}", "[]"] {
            #expect(CompactJSON.counts(text) == nil, "\(text)")
        }
    }
}

@Suite struct EpochHistoryJSONTests {
    /// The history body joined from per-model encodings is byte for byte the whole epoch's.
    @Test func joinedEpochBodyEqualsTheWholeEncoding() throws {
        let now = Timestamp(secondsSince1970: 1_767_225_600.25)
        let endpoints = ["a", "b", "c"].map { Build.endpoint($0) } + ["a", "b"].map { Build.endpoint($0, model: "acme/solo-1") }
        var engine = MemoryRanking(policy: .default, endpoints: endpoints, now: now)
        for endpoint in endpoints {
            for o in Build.observations(endpoint.id, count: 300, end: now, spanSeconds: 300, failEvery: endpoint.provider == "c" ? 2 : 0) {
                _ = engine.record(o)
            }
        }
        let epoch = engine.computeEpoch(now: now.adding(seconds: 30), trigger: .fastPath)
        #expect(epoch.models.count == 2)
        #expect(epoch.models.flatMap(\.endpoints).contains { $0.demotedUntil != nil }, "a demotion is in the fixture")
        #expect(try DatabaseFiles.epochJSON(epoch) == DatabaseFiles.json(epoch))
        #expect(try DatabaseFiles.decode(Epoch.self, DatabaseFiles.epochJSON(epoch), file: "test") == epoch)
        // The stored body is that JSON deflated, and reads back as the same epoch.
        let body = try DatabaseFiles.epochBody(epoch)
        let json = Array(try DatabaseFiles.epochJSON(epoch).utf8)
        #expect(try Zlib.inflate(body, limit: 1 << 20) == json)
        #expect(body.count * 5 < json.count, "deflated: \(body.count) of \(json.count) bytes")
        #expect(try DatabaseFiles.decodeEpoch(.init(value: body)!, file: "test") == epoch)
    }

    static func epoch() -> Epoch {
        let now = Timestamp(secondsSince1970: 1_767_225_600.25)
        let endpoints = ["a", "b", "c"].map { Build.endpoint($0) }
        var engine = MemoryRanking(policy: .default, endpoints: endpoints, now: now)
        for endpoint in endpoints {
            for o in Build.observations(endpoint.id, count: 50, end: now, spanSeconds: 60) { _ = engine.record(o) }
        }
        return engine.computeEpoch(now: now.adding(seconds: 30), trigger: .scheduled)
    }

    /// Text bodies written before schema 6 are read as they are: nothing rewrites the history.
    @Test func historyWrittenAsTextByEarlierVersionsIsStillRead() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let epoch = Self.epoch()
        let newer = Epoch(id: epoch.id + 1, computedAt: epoch.computedAt.adding(seconds: 300), policyHash: epoch.policyHash, trigger: .scheduled, models: epoch.models)
        let store = try StateStore(path: dir.file("state.db"))
        try store.history.saveHistoryOnly(newer)
        try DatabaseQueue(path: dir.file("state.db")).write { db in
            try db.execute(
                sql: "INSERT INTO epochs (id, computed_at, policy_hash, trigger, body) VALUES (?, ?, ?, ?, ?)",
                arguments: [epoch.id, epoch.computedAt.secondsSince1970, epoch.policyHash, epoch.trigger.rawValue, DatabaseFiles.json(epoch)])
            #expect(try String.fetchAll(db, sql: "SELECT typeof(body) FROM epochs ORDER BY id") == ["text", "blob"])
        }
        #expect(try store.history.epoch(id: epoch.id) == epoch)
        #expect(try store.history.epochs(since: epoch.computedAt) == [epoch, newer])
        #expect(try store.history.latest() == newer)
    }

    /// A damaged body (cut short, a byte flipped, or not deflated at all) is a clear error naming
    /// the file, never a crash or a wrong epoch.
    @Test(arguments: ["cut", "flipped", "garbage"])
    func damagedHistoryBodyIsACorruptRowError(damage: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let epoch = Self.epoch()
        let store = try StateStore(path: dir.file("state.db"))
        try store.history.saveHistoryOnly(epoch)
        var body = [UInt8](try DatabaseFiles.epochBody(epoch))
        switch damage {
        case "cut": body.removeLast(body.count / 2)
        case "flipped": body[body.count / 2] ^= 0x5A
        default: body = Array("not a zlib stream".utf8)
        }
        try DatabaseQueue(path: dir.file("state.db")).write { db in
            try db.execute(sql: "UPDATE epochs SET body = ? WHERE id = ?", arguments: [Data(body), epoch.id])
        }
        #expect {
            try store.history.epoch(id: epoch.id)
        } throws: { error in
            guard case .corruptRow(let file, let detail)? = error as? StoreError else { return false }
            return file == dir.file("state.db") && detail.contains("epoch body: zlib inflate failed")
        }
    }
}
