import Foundation

/// Reassembles an OpenAI-compatible chat completion, streamed (SSE `data:` lines of
/// `chat.completion.chunk`) or not, into content, tool calls, finish reason and usage. Fed bytes
/// as they arrive; tells the caller when the first token (content or tool-call delta) arrived.
public struct ChatResponseAssembler: Sendable {
    public struct ToolCall: Hashable, Sendable {
        public var id: String?
        public var name: String
        /// The raw arguments text as sent (JSON when the provider is right).
        public var arguments: String
    }

    public private(set) var content = ""
    public private(set) var toolCalls: [ToolCall] = []
    public private(set) var finishReason: String?
    /// `usage.completion_tokens` when the provider sent it.
    public private(set) var completionTokens: Int?
    /// Content and tool-call deltas seen (the token count when usage is absent).
    public private(set) var deltaCount = 0
    public private(set) var sawDone = false
    /// A `data:` line that was not JSON, or an error object in the stream.
    public private(set) var streamError: String?

    private var pending = Data()
    private var callsByIndex: [Int: ToolCall] = [:]

    public init() {}

    /// Feeds streamed bytes; returns how many new token deltas they carried.
    public mutating func feedStream(_ bytes: Data) -> Int {
        pending.append(bytes)
        var tokens = 0
        while let newline = pending.firstIndex(of: 0x0A) {
            var line = pending[pending.startIndex..<newline]
            pending.removeSubrange(pending.startIndex...newline)
            if line.last == 0x0D { line = line.dropLast() }
            tokens += consume(line: String(decoding: line, as: UTF8.self))
        }
        return tokens
    }

    private mutating func consume(line: String) -> Int {
        guard line.hasPrefix("data:") else { return 0 }
        let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
        if payload == "[DONE]" {
            sawDone = true
            return 0
        }
        guard let chunk = JSONValue.parse(payload) else {
            streamError = "a stream line is not JSON"
            return 0
        }
        if let error = chunk["error"] {
            streamError = error["message"]?.stringValue ?? "error in stream"
            return 0
        }
        if let tokens = chunk["usage"]?["completion_tokens"]?.numberValue { completionTokens = Int(saturating: tokens) }
        var tokens = 0
        for choice in chunk["choices"]?.arrayValue ?? [] {
            if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
            guard let delta = choice["delta"] else { continue }
            if let text = delta["content"]?.stringValue, !text.isEmpty {
                content += text
                tokens += 1
            }
            for (position, call) in (delta["tool_calls"]?.arrayValue ?? []).enumerated() {
                let index = call["index"]?.numberValue.map { Int(saturating: $0) } ?? position
                var current = callsByIndex[index] ?? ToolCall(id: nil, name: "", arguments: "")
                if let id = call["id"]?.stringValue { current.id = id }
                let name = call["function"]?["name"]?.stringValue ?? ""
                let arguments = call["function"]?["arguments"]?.stringValue ?? ""
                current.name += name
                current.arguments += arguments
                // The delta naming the function is output too: it is the first token of a call.
                if !name.isEmpty || !arguments.isEmpty { tokens += 1 }
                callsByIndex[index] = current
            }
        }
        toolCalls = callsByIndex.keys.sorted().map { callsByIndex[$0]! }
        deltaCount += tokens
        return tokens
    }

    /// Reads a whole non-streamed response body.
    public mutating func feedComplete(_ body: Data) {
        guard let response = JSONValue.parse(body) else {
            streamError = "the response body is not JSON"
            return
        }
        if let error = response["error"] {
            streamError = error["message"]?.stringValue ?? "error in response"
            return
        }
        if let tokens = response["usage"]?["completion_tokens"]?.numberValue { completionTokens = Int(saturating: tokens) }
        guard let choice = response["choices"]?.arrayValue?.first else {
            streamError = "the response has no choices"
            return
        }
        finishReason = choice["finish_reason"]?.stringValue
        let message = choice["message"]
        content = message?["content"]?.stringValue ?? ""
        toolCalls = (message?["tool_calls"]?.arrayValue ?? []).map { call in
            ToolCall(
                id: call["id"]?.stringValue, name: call["function"]?["name"]?.stringValue ?? "",
                arguments: call["function"]?["arguments"]?.stringValue ?? (call["function"]?["arguments"].map(\.jsonText) ?? ""))
        }
        sawDone = true
    }

    /// The stream ended properly: a finish reason or `[DONE]` arrived.
    public var isComplete: Bool { finishReason != nil || sawDone }

    /// Output tokens: `usage` when sent, else the deltas counted.
    public var outputTokens: Int { completionTokens ?? deltaCount }
}
