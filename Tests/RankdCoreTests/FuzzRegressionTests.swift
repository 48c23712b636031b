import Foundation
import RankdCore
import RankdTestKit
import Testing

/// Inputs the fuzz targets (fuzz/) found that crashed rankd, kept in fuzz/regressions/ and fed to
/// the same code here: numbers out of Int's range in span status codes and in provider answers
/// (a tool call's `index`, `usage.completion_tokens`) trapped on conversion.
@Suite struct FuzzRegressionTests {
    static func inputs(_ target: String) throws -> [Data] {
        let directory = RepositoryFiles.path("fuzz/regressions/\(target)")
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map {
            try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\($0)"))
        }
    }

    @Test func savedOTLPInputsAreReadWithoutATrap() throws {
        let saved = try Self.inputs("FuzzOTLP")
        #expect(!saved.isEmpty)
        for input in saved {
            if let json = JSONValue.parse(input), let spans = try? OTLPJSONReader.spans(json) {
                for item in spans { _ = GenAISpanReader.read(item.span, resource: item.resource) }
            }
        }
    }

    @Test func savedProviderAnswersAreReassembledWithoutATrap() throws {
        let saved = try Self.inputs("FuzzStream")
        #expect(!saved.isEmpty)
        for input in saved {
            var stream = ChatResponseAssembler()
            _ = stream.feedStream(input)
            var whole = ChatResponseAssembler()
            whole.feedComplete(input)
        }
    }

    @Test func hugeNumbersSaturate() throws {
        let span = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"a","spanId":"b","startTimeUnixNano":1e300,"endTimeUnixNano":1e300,"status":{"code":-1e300},"attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":1e300}},{"key":"gen_ai.usage.output_tokens","value":{"doubleValue":1e300}}]}]}]}]}"#
        let spans = try OTLPJSONReader.spans(try #require(JSONValue.parse(span)))
        #expect(spans.first?.span.statusCode == Int.min)
        #expect(spans.first?.span.endNanos == UInt64.max)
        let reading = GenAISpanReader.read(spans[0].span)
        _ = reading

        var stream = ChatResponseAssembler()
        let chunk = #"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1e300,"function":{"name":"f","arguments":"{}"}}]}}],"usage":{"completion_tokens":1e300}}"#
        _ = stream.feedStream(Data((chunk + "\n\n").utf8))
        #expect(stream.toolCalls.count == 1)
        #expect(stream.completionTokens == Int.max)
        #expect(Int(saturating: .nan) == 0 && Int(saturating: -.infinity) == Int.min && Int(saturating: 41.9) == 41)
    }
}
