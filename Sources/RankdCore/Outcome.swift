/// How one finished request to an endpoint ended. The raw values are the names used in telemetry,
/// the HTTP API and the SQLite files.
public enum Outcome: String, CaseIterable, Codable, Sendable, Comparable {
    case ok
    case http4xx = "http_4xx"
    case http429 = "http_429"
    case http5xx = "http_5xx"
    case timeout
    case transportError = "transport_error"
    case truncated
    case noToolCall = "no_tool_call"
    case malformedArgs = "malformed_args"
    case wrongTool = "wrong_tool"
    case schemaViolation = "schema_violation"
    case wrongValue = "wrong_value"
    /// A 4xx that says the endpoint cannot serve, whoever asks: 401 (its credentials), 402 (its
    /// account), 404 (the model is gone). OpenRouter's uptime counts these as failures and the
    /// other 4xx (400, 403, 413: the request's own fault) not at all, so they are kept apart.
    /// Last, so the other cases keep their positions.
    case http4xxEndpoint = "http_4xx_endpoint"

    /// The endpoint answered, but the tool call it returned was missing or wrong.
    public var isToolCallFailure: Bool {
        switch self {
        case .noToolCall, .malformedArgs, .wrongTool, .schemaViolation, .wrongValue: true
        default: false
        }
    }

    /// The request itself failed (no usable answer). Whether `http_4xx` and `http_429` count
    /// against reliability is a policy decision (`reliability.ignored_outcomes`).
    public var isRequestFailure: Bool {
        switch self {
        case .http4xx, .http4xxEndpoint, .http429, .http5xx, .timeout, .transportError, .truncated: true
        default: false
        }
    }

    /// How OpenRouter's uptime rule counts the outcome: nil when not at all (`http_4xx`: 400, 403,
    /// 413 and the like, the request's own fault; `http_429`, a rate limit), else whether the
    /// endpoint failed (a 5xx, 401/402/404, no answer, an answer cut off). A wrong tool call is
    /// an answer: it counts as up (the tool-call error rate judges it).
    public var uptimeFailure: Bool? {
        switch self {
        case .http4xx, .http429: nil
        case .http4xxEndpoint, .http5xx, .timeout, .transportError, .truncated: true
        default: false
        }
    }

    /// The outcome of an HTTP error status (not 2xx).
    public static func ofErrorStatus(_ status: Int) -> Outcome {
        switch status {
        case 429: .http429
        case 401, 402, 404: .http4xxEndpoint
        case 500...: .http5xx
        default: .http4xx
        }
    }

    /// Failures that say the endpoint is down rather than merely wrong: these feed the fast path.
    public var isHardFailure: Bool {
        switch self {
        case .http5xx, .timeout, .transportError: true
        default: false
        }
    }

    /// A stable position, used to lay out outcome counts as fixed arrays.
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: Outcome, rhs: Outcome) -> Bool { lhs.index < rhs.index }
}

/// Where an observation came from.
public enum ObservationSource: String, CaseIterable, Codable, Sendable {
    /// A synthetic request made by rankd's prober, with a known expected answer.
    case probe
    /// A real request reported by the gateway.
    case live
}
