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
        case .http4xx, .http429, .http5xx, .timeout, .transportError, .truncated: true
        default: false
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
