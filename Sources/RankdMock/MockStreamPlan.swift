import RankdCore

/// The bytes of one answer: SSE events (one token per event after the leading ones) or a whole
/// JSON body, shaped like OpenAI's chat completions.
struct MockStreamPlan {
    /// SSE events, each `data: ...\n\n`.
    private(set) var events: [String] = []
    /// Events sent together at the first-token time (padding, role and tool header).
    private(set) var leadingEvents = 0
    /// Leading events that are tokens themselves (the tool-call header, which names the function).
    private(set) var leadingTokens = 0
    /// Token deltas (what `usage.completion_tokens` reports).
    private(set) var tokenCount = 0
    let completeBody: String

    init(answer: MockAnswer, model: String, truncate: Bool, paddingBytes: Int) {
        let id = "chatcmpl-mock"
        func chunk(_ delta: JSONValue, finish: String? = nil) -> String {
            let choice: JSONValue = .object(["index": .number(0), "delta": delta, "finish_reason": finish.map(JSONValue.string) ?? .null])
            let object: JSONValue = .object([
                "id": .string(id), "object": .string("chat.completion.chunk"), "model": .string(model), "choices": .array([choice]),
            ])
            return "data: \(object.jsonText)\n\n"
        }
        var tokenEvents: [String] = []
        var leading: [String] = []
        if paddingBytes > 0 { leading.append(": \(String(repeating: " ", count: paddingBytes))\n\n") }
        let message: JSONValue
        let finishReason: String
        switch answer {
        case .toolCall(let name, let arguments):
            let header: JSONValue = .object([
                "role": .string("assistant"),
                "tool_calls": .array([
                    .object([
                        "index": .number(0), "id": .string("call_mock_1"), "type": .string("function"),
                        "function": .object(["name": .string(name), "arguments": .string("")]),
                    ])
                ]),
            ])
            leading.append(chunk(header))
            tokenEvents = Self.pieces(arguments, size: 4).map { piece in
                chunk(
                    .object(["tool_calls": .array([.object(["index": .number(0), "function": .object(["arguments": .string(piece)])])])]))
            }
            finishReason = "tool_calls"
            message = .object([
                "role": .string("assistant"), "content": .null,
                "tool_calls": .array([
                    .object([
                        "id": .string("call_mock_1"), "type": .string("function"),
                        "function": .object(["name": .string(name), "arguments": .string(arguments)]),
                    ])
                ]),
            ])
        case .text(let text):
            leading.append(chunk(.object(["role": .string("assistant"), "content": .string("")])))
            tokenEvents = Self.pieces(text, size: 4).map { chunk(.object(["content": .string($0)])) }
            finishReason = "stop"
            message = .object(["role": .string("assistant"), "content": .string(text)])
        }
        // The tool header (with the function name) is the first token; content deltas are tokens.
        leadingTokens = leading.contains { $0.contains("tool_calls") } ? 1 : 0
        let tokens = tokenEvents.count + leadingTokens
        tokenCount = tokens
        if truncate {
            events = leading + tokenEvents.prefix(tokenEvents.count / 2)
        } else {
            let usage: JSONValue = .object([
                "prompt_tokens": .number(64), "completion_tokens": .number(Double(tokens)), "total_tokens": .number(Double(64 + tokens)),
            ])
            let usageEvent: JSONValue = .object([
                "id": .string(id), "object": .string("chat.completion.chunk"), "model": .string(model), "choices": .array([]),
                "usage": usage,
            ])
            events =
                leading + tokenEvents + [chunk(.object([:]), finish: finishReason), "data: \(usageEvent.jsonText)\n\n", "data: [DONE]\n\n"]
        }
        leadingEvents = leading.count
        let body: JSONValue = .object([
            "id": .string(id), "object": .string("chat.completion"), "model": .string(model),
            "choices": .array([.object(["index": .number(0), "message": message, "finish_reason": .string(finishReason)])]),
            "usage": .object([
                "prompt_tokens": .number(64), "completion_tokens": .number(Double(tokens)), "total_tokens": .number(Double(64 + tokens)),
            ]),
        ])
        let text = body.jsonText + String(repeating: " ", count: paddingBytes)
        completeBody = truncate ? String(text.prefix(text.count / 2)) : text
    }

    static func pieces(_ text: String, size: Int) -> [String] {
        var result: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if current.count == size {
                result.append(current)
                current = ""
            }
        }
        if !current.isEmpty { result.append(current) }
        return result.isEmpty ? [""] : result
    }
}
