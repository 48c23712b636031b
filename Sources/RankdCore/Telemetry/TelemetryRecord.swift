/// One finished gateway request as the gateway reports it (`POST /v1/telemetry`): metadata only.
public struct TelemetryRecord: Hashable, Sendable {
    /// The idempotency key: a replay within the dedupe window is acknowledged, not counted again.
    public var requestID: String
    /// When the request finished.
    public var time: Timestamp
    public var model: String?
    public var provider: String?
    /// An endpoint id instead of model + provider.
    public var endpointID: String?
    /// HTTP status of the upstream answer; 0 for a transport error (no answer).
    public var status: Int?
    public var outcome: Outcome?
    public var ttftMilliseconds: Double?
    public var latencyMilliseconds: Double?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var toolsOffered: Bool?
    /// Whether the tool call the answer carried validated (the gateway's own check); nil: not checked.
    public var toolCallValid: Bool?
    public var finishReason: String?
    public var errorType: String?
    /// With a 429: the provider's Retry-After, in seconds (the share stays lowered that long).
    public var retryAfterSeconds: Double?

    public init(requestID: String, time: Timestamp) {
        self.requestID = requestID
        self.time = time
    }

    /// The outcome, given or derived from the status, the error type, the finish reason and the
    /// tool-call verdict (documented in docs/telemetry.md).
    public var resolvedOutcome: Outcome {
        if let outcome { return outcome }
        let error = errorType?.lowercased() ?? ""
        let code = status ?? (error.isEmpty ? 200 : 0)
        switch code {
        case 0:
            return error.contains("timeout") || error.contains("timed out") ? .timeout : .transportError
        case 400...:
            return .ofErrorStatus(code)
        default:
            if error.contains("timeout") { return .timeout }
            // A stream that ended in an error (OpenRouter's error finish reason) was cut off.
            if finishReason == "error" { return .truncated }
            if toolCallValid == false { return finishReason == "tool_calls" ? .schemaViolation : .noToolCall }
            if finishReason == "length" { return .truncated }
            return .ok
        }
    }

    /// The observation this record makes for `endpointID`.
    public func observation(endpointID: String) -> Observation {
        let outcome = resolvedOutcome
        let answered = !outcome.isRequestFailure || outcome == .truncated
        var throughput: Double?
        if answered, let latency = latencyMilliseconds, let ttft = ttftMilliseconds, let tokens = completionTokens, tokens > 1,
            latency > ttft
        {
            throughput = Double(tokens - 1) / ((latency - ttft) / 1_000)
        }
        return Observation(
            endpointID: endpointID, time: time, source: .live, outcome: outcome,
            toolsOffered: toolsOffered ?? (toolCallValid != nil || outcome.isToolCallFailure),
            ttftMilliseconds: answered ? ttftMilliseconds : nil, latencyMilliseconds: latencyMilliseconds,
            outputTokensPerSecond: throughput, retryAfterSeconds: retryAfterSeconds)
    }
}

/// Why one record of a batch was not accepted.
public struct RecordRejection: Hashable, Sendable {
    /// 0-based position in the batch (array element or NDJSON line, blank lines not counted).
    public var index: Int
    public var field: String
    public var reason: String

    public init(index: Int, field: String, reason: String) {
        self.index = index
        self.field = field
        self.reason = reason
    }
}
