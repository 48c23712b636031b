/// One span of an OTLP trace export, as rankd reads it (from protobuf or JSON).
public struct OTLPSpan: Sendable {
    /// Lower-case hex, as OTLP/JSON writes ids.
    public var traceID: String
    public var spanID: String
    public var name: String
    public var startNanos: UInt64
    public var endNanos: UInt64
    public var attributes: [String: OTLPValue]
    /// 0 unset, 1 ok, 2 error.
    public var statusCode: Int
    public var statusMessage: String

    public init(
        traceID: String, spanID: String, name: String = "", startNanos: UInt64, endNanos: UInt64, attributes: [String: OTLPValue],
        statusCode: Int = 0, statusMessage: String = ""
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.name = name
        self.startNanos = startNanos
        self.endNanos = endNanos
        self.attributes = attributes
        self.statusCode = statusCode
        self.statusMessage = statusMessage
    }
}

/// An OTLP attribute value (`AnyValue`); key-value lists and bytes are kept only as `other`.
public enum OTLPValue: Hashable, Sendable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([OTLPValue])
    case other

    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        case .string(let text): Double(text)
        default: nil
        }
    }

    var bool: Bool? {
        switch self {
        case .bool(let flag): flag
        case .string(let text): text == "true" ? true : text == "false" ? false : nil
        default: nil
        }
    }

    var strings: [String] {
        switch self {
        case .array(let values): values.compactMap(\.string)
        case .string(let text): [text]
        default: []
        }
    }
}

/// Reads a span with the OpenTelemetry GenAI semantic conventions as a telemetry record.
///
/// A span is GenAI when it has `gen_ai.request.model`, `gen_ai.provider.name`, `gen_ai.system`
/// or `gen_ai.operation.name`; others are not (ignored and counted). The record's id is
/// `otlp:TRACE:SPAN`, so an exporter's retry is deduplicated like any replay.
public enum GenAISpanReader {
    public enum Reading: Sendable {
        case record(TelemetryRecord)
        case notGenAI
        case invalid(field: String, reason: String)
    }

    static let markers = ["gen_ai.request.model", "gen_ai.provider.name", "gen_ai.system", "gen_ai.operation.name"]

    public static func read(_ span: OTLPSpan, resource: [String: OTLPValue] = [:]) -> Reading {
        let attributes = span.attributes
        guard markers.contains(where: { attributes[$0] != nil }) else { return .notGenAI }
        func value(_ key: String) -> OTLPValue? { attributes[key] ?? resource[key] }
        guard !span.traceID.isEmpty, !span.spanID.isEmpty else {
            return .invalid(field: "traceId", reason: "a GenAI span needs its trace and span ids (the idempotency key)")
        }
        guard span.endNanos > 0 else { return .invalid(field: "endTimeUnixNano", reason: "is required: when the request finished") }
        var record = TelemetryRecord(
            requestID: "otlp:\(span.traceID):\(span.spanID)", time: Timestamp(secondsSince1970: Double(span.endNanos) / 1e9))
        if let endpoint = value("rankd.endpoint_id")?.string {
            record.endpointID = endpoint
        } else {
            guard let model = (value("gen_ai.request.model") ?? value("gen_ai.response.model"))?.string, !model.isEmpty else {
                return .invalid(field: "gen_ai.request.model", reason: "is required to know which model the span is about")
            }
            guard let provider = (value("rankd.provider") ?? value("gen_ai.provider.name") ?? value("gen_ai.system"))?.string,
                !provider.isEmpty
            else {
                return .invalid(
                    field: "gen_ai.provider.name", reason: "is required (or gen_ai.system, rankd.provider) to know which provider served it"
                )
            }
            record.model = model
            record.provider = provider
        }
        if span.endNanos >= span.startNanos, span.startNanos > 0 {
            record.latencyMilliseconds = Double(span.endNanos - span.startNanos) / 1e6
        }
        if let seconds = (value("gen_ai.response.time_to_first_chunk") ?? value("gen_ai.server.time_to_first_token"))?.number {
            record.ttftMilliseconds = seconds * 1_000
        }
        record.promptTokens = (value("gen_ai.usage.input_tokens") ?? value("gen_ai.usage.prompt_tokens"))?.number.map { Int(saturating: max(0, $0)) }
        record.completionTokens = (value("gen_ai.usage.output_tokens") ?? value("gen_ai.usage.completion_tokens"))?.number.map {
            Int(saturating: max(0, $0))
        }
        let finishReasons = value("gen_ai.response.finish_reasons")?.strings ?? []
        record.finishReason = finishReasons.first
        record.errorType = value("error.type")?.string
        if let status = value("http.response.status_code")?.number, status >= 100, status <= 599 { record.status = Int(status) }
        if span.statusCode == 2 && record.status == nil {
            // An error with no HTTP answer: the request failed in transport (or timed out).
            record.status = 0
            if record.errorType == nil { record.errorType = span.statusMessage.isEmpty ? "error" : String(span.statusMessage.prefix(128)) }
        }
        // Retry-After as a number of seconds, or as the captured response header (HTTP semantic
        // conventions record headers as string arrays); an HTTP date is not read.
        if let seconds = value("rankd.retry_after_seconds")?.number
            ?? (value("http.response.header.retry-after")?.strings.first ?? value("http.response.header.retry-after")?.string)
            .flatMap({ Double(String($0.filter { $0 != " " })) }),
            seconds >= 0, seconds <= 86_400
        {
            record.retryAfterSeconds = seconds
        }
        record.toolCallValid = value("rankd.tool_call_valid")?.bool
        record.toolsOffered =
            value("rankd.tools_offered")?.bool
            ?? (attributes["gen_ai.tool.definitions"] != nil || finishReasons.contains("tool_calls") || record.toolCallValid != nil)
        return .record(record)
    }
}
