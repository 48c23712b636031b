/// How the HTTP exchange itself ended, before any answer is looked at.
public enum TransportResult: Hashable, Sendable {
    /// A response with this status arrived (and, for streams, the connection ended normally).
    case completed(status: Int, retryAfterSeconds: Double?)
    /// The response started but the connection broke before it ended.
    case cutOff(status: Int)
    case timeout
    /// The response grew past the size cap and was cut.
    case tooLarge(limitBytes: Int)
    /// Connection refused, DNS, TLS and the like.
    case failed(String)
}

/// The classification of one probe answer: the outcome and, for failures, why.
public struct ProbeVerdict: Hashable, Sendable {
    public var outcome: Outcome
    public var detail: String

    public init(_ outcome: Outcome, _ detail: String = "") {
        self.outcome = outcome
        self.detail = detail
    }
}

/// Classifies a probe answer in order: transport and HTTP status, then a tool call present, its
/// name offered and expected, arguments that parse as a JSON object, satisfy the tool's schema,
/// and equal the expected values. Every call of a multi-call answer must be valid.
public enum ProbeValidator {
    public static func classify(transport: TransportResult, response: ChatResponseAssembler, probe: ProbeCase) -> ProbeVerdict {
        switch transport {
        case .timeout: return ProbeVerdict(.timeout, "no complete answer before the timeout")
        case .tooLarge(let limit): return ProbeVerdict(.transportError, "response larger than \(limit) bytes")
        case .failed(let message): return ProbeVerdict(.transportError, message)
        case .cutOff(let status) where !(200..<300).contains(status): return statusVerdict(status, retryAfter: nil)
        case .cutOff: return ProbeVerdict(.truncated, "the connection closed mid-answer")
        case .completed(let status, let retryAfter) where !(200..<300).contains(status):
            return statusVerdict(status, retryAfter: retryAfter)
        case .completed: break
        }
        if let error = response.streamError { return ProbeVerdict(.truncated, error) }
        if !response.isComplete { return ProbeVerdict(.truncated, "the stream ended without a finish reason or [DONE]") }
        if response.finishReason == "length" && response.toolCalls.isEmpty {
            return ProbeVerdict(.truncated, "stopped at max_tokens")
        }

        switch probe.expectation {
        case .noToolCall:
            if let call = response.toolCalls.first { return ProbeVerdict(.wrongTool, "called \(call.name) where no tool was needed") }
            return ProbeVerdict(.ok)
        case .toolCall(let expectedTool, let expectedArguments):
            guard !response.toolCalls.isEmpty else { return ProbeVerdict(.noToolCall, "expected a call to \(expectedTool)") }
            for (index, call) in response.toolCalls.enumerated() {
                guard let tool = probe.tool(named: call.name) else {
                    return ProbeVerdict(
                        .wrongTool, "called \(call.name.isEmpty ? "a nameless function" : call.name), which was not offered")
                }
                if index == 0 && call.name != expectedTool {
                    return ProbeVerdict(.wrongTool, "called \(call.name), expected \(expectedTool)")
                }
                guard let arguments = JSONValue.parse(call.arguments), case .object = arguments else {
                    return ProbeVerdict(.malformedArgs, "arguments of \(call.name) are not a JSON object: \(call.arguments.prefix(80))")
                }
                let violations = JSONSchemaValidator.violations(of: arguments, against: tool.parameters)
                if let first = violations.first { return ProbeVerdict(.schemaViolation, first) }
                if index == 0 {
                    for (key, matcher) in expectedArguments.sorted(by: { $0.key < $1.key }) {
                        guard let value = arguments[key], matcher.matches(value) else {
                            return ProbeVerdict(
                                .wrongValue, "\(key) = \(arguments[key]?.jsonText ?? "missing"), expected \(matcher.example.jsonText)")
                        }
                    }
                }
            }
            return ProbeVerdict(.ok)
        }
    }

    static func statusVerdict(_ status: Int, retryAfter: Double?) -> ProbeVerdict {
        let outcome = Outcome.ofErrorStatus(status)
        return switch outcome {
        case .http429: ProbeVerdict(.http429, retryAfter.map { "rate limited; retry after \(Int(saturating: $0)) s" } ?? "rate limited")
        default: ProbeVerdict(outcome, "HTTP \(status)")
        }
    }
}
