import Foundation
import RankdCore
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
