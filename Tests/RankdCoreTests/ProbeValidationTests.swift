import Foundation
import RankdCore
import Testing

/// The pure half of probing: stream reassembly, the schema subset, matchers, classification order.
@Suite struct ProbeValidationTests {
    static let weather = ToolDefinition(
        name: "get_weather", description: "",
        parameters: JSONValue.parse(
            #"{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"],"additionalProperties":false}"#
        )!)
    static let order = ToolDefinition(
        name: "lookup_order", description: "",
        parameters: JSONValue.parse(#"{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}"#)!)
    static let probe = ProbeCase(
        id: "t", messages: [ChatMessage(role: "user", content: "weather in Paris")], tools: [weather, order],
        expectation: .toolCall(tool: "get_weather", arguments: ["city": .equals(.string("Paris"))]))

    /// An SSE stream of one tool call whose arguments arrive in pieces, cut at awkward places.
    static func stream(name: String, arguments: String, finish: Bool = true) -> String {
        var text =
            #"data: {"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"\#(name)","arguments":""}}]}}]}"#
            + "\n\n"
        for piece in stride(from: 0, to: arguments.count, by: 3).map({ Array(arguments)[$0..<min($0 + 3, arguments.count)] }) {
            let escaped = String(piece).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            text +=
                #"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\#(escaped)"}}]}}]}"# + "\r\n\r\n"
        }
        if finish { text += "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n" }
        return text
    }

    func classify(_ sse: String, byteChunk: Int = 7) -> ProbeVerdict {
        var assembler = ChatResponseAssembler()
        let bytes = Array(sse.utf8)
        for start in stride(from: 0, to: bytes.count, by: byteChunk) {
            _ = assembler.feedStream(Data(bytes[start..<min(start + byteChunk, bytes.count)]))
        }
        return ProbeValidator.classify(transport: .completed(status: 200, retryAfterSeconds: nil), response: assembler, probe: Self.probe)
    }

    @Test(arguments: [
        ("get_weather", #"{"city":"Paris","unit":"celsius"}"#, true, Outcome.ok),
        ("get_weather", #"{"city":" paris "}"#, true, .ok),
        ("get_weather", #"{"city":"Lyon"}"#, true, .wrongValue),
        ("get_weather", #"{"city":"Paris","unit":"kelvin"}"#, true, .schemaViolation),
        ("get_weather", #"{"unit":"celsius"}"#, true, .schemaViolation),
        ("get_weather", #"{"city":"Paris","country":"FR"}"#, true, .schemaViolation),
        ("get_weather", #"{"city":"Paris""#, true, .malformedArgs),
        ("get_weather", #"["Paris"]"#, true, .malformedArgs),
        ("lookup_order", #"{"order_id":"A-1"}"#, true, .wrongTool),
        ("get_horoscope", #"{"sign":"leo"}"#, true, .wrongTool),
        ("get_weather", #"{"city":"Paris"}"#, false, .truncated),
    ])
    func classificationFollowsTheDocumentedOrder(name: String, arguments: String, finish: Bool, expected: Outcome) {
        for chunk in [1, 7, 4096] {
            #expect(classify(Self.stream(name: name, arguments: arguments, finish: finish), byteChunk: chunk).outcome == expected)
        }
    }

    @Test func transportAndStatusComeFirst() {
        let empty = ChatResponseAssembler()
        let cases: [(TransportResult, Outcome)] = [
            (.timeout, .timeout), (.failed("refused"), .transportError), (.tooLarge(limitBytes: 10), .transportError),
            (.completed(status: 429, retryAfterSeconds: 3), .http429), (.completed(status: 503, retryAfterSeconds: nil), .http5xx),
            (.completed(status: 401, retryAfterSeconds: nil), .http4xxEndpoint), (.completed(status: 404, retryAfterSeconds: nil), .http4xxEndpoint),
            (.completed(status: 400, retryAfterSeconds: nil), .http4xx), (.completed(status: 413, retryAfterSeconds: nil), .http4xx),
            (.cutOff(status: 200), .truncated),
            (.completed(status: 200, retryAfterSeconds: nil), .truncated),
        ]
        for (transport, outcome) in cases {
            #expect(ProbeValidator.classify(transport: transport, response: empty, probe: Self.probe).outcome == outcome)
        }
    }

    @Test func noToolCallAndTheControlCase() {
        var text = ChatResponseAssembler()
        _ = text.feedStream(
            Data("data: {\"choices\":[{\"delta\":{\"content\":\"Hola\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n".utf8))
        #expect(
            ProbeValidator.classify(transport: .completed(status: 200, retryAfterSeconds: nil), response: text, probe: Self.probe).outcome
                == .noToolCall)
        var control = Self.probe
        control.expectation = .noToolCall
        #expect(
            ProbeValidator.classify(transport: .completed(status: 200, retryAfterSeconds: nil), response: text, probe: control).outcome
                == .ok)
        var called = ChatResponseAssembler()
        _ = called.feedStream(Data(Self.stream(name: "get_weather", arguments: #"{"city":"Paris"}"#).utf8))
        #expect(
            ProbeValidator.classify(transport: .completed(status: 200, retryAfterSeconds: nil), response: called, probe: control).outcome
                == .wrongTool)
    }

    @Test func nonStreamedAnswersAndUsage() {
        var assembler = ChatResponseAssembler()
        assembler.feedComplete(
            Data(
                #"{"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"completion_tokens":9}}"#
                    .utf8))
        #expect(assembler.outputTokens == 9)
        #expect(
            ProbeValidator.classify(transport: .completed(status: 200, retryAfterSeconds: nil), response: assembler, probe: Self.probe)
                .outcome == .ok)
        var broken = ChatResponseAssembler()
        broken.feedComplete(Data(#"{"choices":[{"message""#.utf8))
        #expect(
            ProbeValidator.classify(transport: .completed(status: 200, retryAfterSeconds: nil), response: broken, probe: Self.probe).outcome
                == .truncated)
    }

    @Test func streamedTokensAreCountedFromDeltasWithoutUsage() {
        var assembler = ChatResponseAssembler()
        let tokens = assembler.feedStream(Data(Self.stream(name: "get_weather", arguments: #"{"city":"Paris"}"#).utf8))
        #expect(tokens == 1 + 6, "the naming delta plus six argument pieces")
        #expect(assembler.outputTokens == 7)
    }

    @Test(arguments: [
        (#"{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":9}},"required":["n"]}"#, #"{"n":3}"#, true),
        (#"{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":9}},"required":["n"]}"#, #"{"n":3.5}"#, false),
        (#"{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":9}},"required":["n"]}"#, #"{"n":10}"#, false),
        (#"{"type":"object","properties":{"n":{"type":"number"}}}"#, #"{"n":3}"#, true),
        (#"{"type":"array","items":{"type":"string"},"minItems":1}"#, #"["a","b"]"#, true),
        (#"{"type":"array","items":{"type":"string"},"minItems":1}"#, #"[]"#, false),
        (#"{"type":"array","items":{"type":"string"}}"#, #"["a",2]"#, false),
        (#"{"type":"string","pattern":"^[A-Z]{3}$"}"#, #""SFO""#, true),
        (#"{"type":"string","pattern":"^[A-Z]{3}$"}"#, #""sfo""#, false),
        (#"{"type":["string","null"]}"#, #"null"#, true),
        (#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#, #"true"#, false),
        (
            #"{"type":"object","properties":{"c":{"type":"object","properties":{"e":{"type":"string"}},"required":["e"]}}}"#, #"{"c":{}}"#,
            false
        ),
        (#"{"type":"boolean"}"#, #"1"#, false),
    ])
    func schemaSubset(schema: String, value: String, valid: Bool) {
        #expect(JSONSchemaValidator.violations(of: JSONValue.parse(value)!, against: JSONValue.parse(schema)!).isEmpty == valid)
    }

    @Test func matchers() {
        #expect(ArgumentMatcher.oneOf([.string("a"), .string("b")]).matches(.string("B")))
        #expect(!ArgumentMatcher.range(min: 1, max: 2).matches(.number(3)))
        #expect(ArgumentMatcher.contains("check").matches(.string("Checkout down")))
        #expect(!ArgumentMatcher.nonEmpty.matches(.array([])))
        #expect(ArgumentMatcher.object(["e": .equals(.string("x@y"))]).matches(.object(["e": .string("X@Y"), "plan": .string("pro")])))
        #expect(ArgumentMatcher.range(min: 2, max: 2).example == .number(2))
    }
}
