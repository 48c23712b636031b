import Foundation
import RankdCore
import RankdTestKit
import Testing

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
        var engine = RankingEngine(policy: .default, endpoints: endpoints, now: now)
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
    }
}
