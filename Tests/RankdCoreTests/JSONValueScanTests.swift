import Foundation
import RankdCore
import RankdTestKit
import Testing

/// `JSONValue.scan` (the strict ingest scanner) reads what `JSONValue.parse` (JSONDecoder) reads.
@Suite struct JSONValueScanTests {
    @Test(arguments: [
        #"{"model": "meta-llama/llama-3.3-70b-instruct", "parameters": ["tools"], "request_id": "r-1"}"#,
        #"{"provider": {"order": ["a", "b/c"], "allow_fallbacks": false, "max_price": {"prompt": 1.5e0, "completion": 2}}, "seed": 9007199254740991}"#,
        #"  [1, -2.5, 3e-7, 0, -0, 1E+2, true, false, null, "", "\u00e9\ud83d\ude00\n\t\"\\\/"] "#,
        #"{"nested": [[[{"a": [{}]}]]], "empty": {}, "list": []}"#,
        #""just a string""#, "42", "null",
    ])
    func scanReadsWhatTheDecoderReads(text: String) throws {
        let decoded = try #require(JSONValue.parse(text), "Foundation reads it")
        #expect(JSONValue.scan(text) == decoded)
    }

    @Test(arguments: [
        "", "{", #"{"a": 1,}"#, "[1 2]", #"{"a" 1}"#, "01", "1.", "-", "tru", #""unterminated"#, #"{"a": 1} x"#, "[1]]",
        #""\x""#, String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
    ])
    func scanRefusesWhatIsNotOneJSONValue(text: String) {
        #expect(JSONValue.scan(text) == nil, "\(text)")
    }

    /// Seeded random documents: the scanner and the decoder agree on every one.
    @Test func randomDocumentsReadTheSame() {
        var rng = SeededGenerator(seed: 2026)
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &rng))
            case 2: return .number((Double.random(in: -1e6...1e6, using: &rng) * 1_000).rounded() / 1_000)
            case 3: return .string(String((0..<Int.random(in: 0...8, using: &rng)).map { _ in "aé\"\\/\n😀z".randomElement(using: &rng)! }))
            case 4: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in random(depth + 1) })
            default:
                var object: [String: JSONValue] = [:]
                for index in 0..<Int.random(in: 0...4, using: &rng) { object["k\(index)"] = random(depth + 1) }
                return .object(object)
            }
        }
        for _ in 0..<300 {
            let text = random(0).jsonText
            #expect(JSONValue.scan(text) == JSONValue.parse(text), "\(text)")
        }
    }
}
