/// How one simulated provider behaves. Probabilities are per request, each in 0...1; at most one
/// fault is drawn per request. JSON keys are snake_case (the control route and scenario files).
public struct MockProfile: Codable, Hashable, Sendable {
    /// Time to first token, milliseconds.
    public var ttftMs: Double = 300
    /// Output pacing after the first token.
    public var tokensPerSecond: Double = 60
    /// Relative jitter of both (0.1 = ±10%).
    public var jitter: Double = 0
    public var http5xx: Double = 0
    public var http429: Double = 0
    public var retryAfterSeconds: Double = 5
    /// The request gets no answer for `hang_seconds`.
    public var hang: Double = 0
    public var hangSeconds: Double = 120
    /// The answer stops half way (no finish reason, no [DONE]).
    public var truncated: Double = 0
    public var malformedArgs: Double = 0
    public var wrongTool: Double = 0
    public var schemaViolation: Double = 0
    /// Schema-valid arguments with a wrong value (only probes with known answers can tell).
    public var wrongValue: Double = 0
    /// Pads every answer with this many bytes of whitespace (to test response size caps).
    public var paddingBytes: Int = 0
    /// When set, a request without `Authorization: Bearer <api_key>` gets 401, as from a real
    /// provider (tests check that rankd sends each endpoint's key).
    public var apiKey: String? = nil
    /// A provider that misbehaves at the protocol level on every request (`Hostile`).
    public var hostile: Hostile? = nil
    /// Body size for `hostile: huge_body` (default 1 GB).
    public var hostileBytes: Int = 1 << 30

    /// Answers that test a client's bounds rather than its judgement.
    public enum Hostile: String, Codable, CaseIterable, Sendable {
        /// HTTP 200 and a valid-looking stream, one byte per second, forever.
        case trickle
        /// HTTP 200 and `hostile_bytes` of body, as fast as the client reads.
        case hugeBody = "huge_body"
        /// A stream whose chunks carry bytes that are not UTF-8, then `[DONE]`.
        case invalidUTF8 = "invalid_utf8"
        /// Valid content chunks every 10 ms that never finish.
        case endlessSSE = "endless_sse"
    }

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case ttftMs = "ttft_ms"
        case tokensPerSecond = "tokens_per_second"
        case jitter
        case http5xx = "http_5xx"
        case http429 = "http_429"
        case retryAfterSeconds = "retry_after_seconds"
        case hang
        case hangSeconds = "hang_seconds"
        case truncated
        case malformedArgs = "malformed_args"
        case wrongTool = "wrong_tool"
        case schemaViolation = "schema_violation"
        case wrongValue = "wrong_value"
        case paddingBytes = "padding_bytes"
        case apiKey = "api_key"
        case hostile
        case hostileBytes = "hostile_bytes"
    }

    public init(from decoder: any Decoder) throws {
        // Unknown keys are reported by the scenario loader and the control route, not here.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MockProfile.defaults
        ttftMs = try c.decodeIfPresent(Double.self, forKey: .ttftMs) ?? d.ttftMs
        tokensPerSecond = try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond) ?? d.tokensPerSecond
        jitter = try c.decodeIfPresent(Double.self, forKey: .jitter) ?? d.jitter
        http5xx = try c.decodeIfPresent(Double.self, forKey: .http5xx) ?? 0
        http429 = try c.decodeIfPresent(Double.self, forKey: .http429) ?? 0
        retryAfterSeconds = try c.decodeIfPresent(Double.self, forKey: .retryAfterSeconds) ?? d.retryAfterSeconds
        hang = try c.decodeIfPresent(Double.self, forKey: .hang) ?? 0
        hangSeconds = try c.decodeIfPresent(Double.self, forKey: .hangSeconds) ?? d.hangSeconds
        truncated = try c.decodeIfPresent(Double.self, forKey: .truncated) ?? 0
        malformedArgs = try c.decodeIfPresent(Double.self, forKey: .malformedArgs) ?? 0
        wrongTool = try c.decodeIfPresent(Double.self, forKey: .wrongTool) ?? 0
        schemaViolation = try c.decodeIfPresent(Double.self, forKey: .schemaViolation) ?? 0
        wrongValue = try c.decodeIfPresent(Double.self, forKey: .wrongValue) ?? 0
        paddingBytes = try c.decodeIfPresent(Int.self, forKey: .paddingBytes) ?? 0
        apiKey = try c.decodeIfPresent(String.self, forKey: .apiKey)
        hostile = try c.decodeIfPresent(Hostile.self, forKey: .hostile)
        hostileBytes = try c.decodeIfPresent(Int.self, forKey: .hostileBytes) ?? d.hostileBytes
    }

    static let defaults = MockProfile()

    /// The faults, in draw order.
    public enum Fault: String, CaseIterable, Sendable {
        case http5xx = "http_5xx"
        case http429 = "http_429"
        case hang
        case truncated
        case malformedArgs = "malformed_args"
        case wrongTool = "wrong_tool"
        case schemaViolation = "schema_violation"
        case wrongValue = "wrong_value"
    }

    public func probability(of fault: Fault) -> Double {
        switch fault {
        case .http5xx: http5xx
        case .http429: http429
        case .hang: hang
        case .truncated: truncated
        case .malformedArgs: malformedArgs
        case .wrongTool: wrongTool
        case .schemaViolation: schemaViolation
        case .wrongValue: wrongValue
        }
    }

    /// Draws at most one fault from `uniform` (a number in 0..<1).
    public func fault(drawn uniform: Double) -> Fault? {
        var cumulative = 0.0
        for fault in Fault.allCases {
            cumulative += min(1, max(0, probability(of: fault)))
            if uniform < cumulative { return fault }
        }
        return nil
    }

    /// Problems with the values, each naming the key.
    public func problems() -> [String] {
        var found: [String] = []
        if ttftMs < 0 { found.append("ttft_ms must be 0 or more") }
        if tokensPerSecond <= 0 { found.append("tokens_per_second must be positive") }
        if !(0...1).contains(jitter) { found.append("jitter must be in 0...1") }
        for fault in Fault.allCases where !(0...1).contains(probability(of: fault)) {
            found.append("\(fault.rawValue) must be a probability in 0...1")
        }
        if Fault.allCases.map(probability(of:)).reduce(0, +) > 1 { found.append("fault probabilities add up to more than 1") }
        if hostileBytes < 0 { found.append("hostile_bytes must be 0 or more") }
        return found
    }
}

extension MockProfile.CodingKeys {
    public static var allKeyNames: [String] { allCases.map(\.rawValue) }
}
