/// One finished request to an endpoint: metadata only, never prompt or completion text.
public struct Observation: Hashable, Codable, Sendable {
    public var endpointID: String
    /// When the request finished.
    public var time: Timestamp
    public var source: ObservationSource
    public var outcome: Outcome
    /// Whether the request offered tools, so that a tool-call verdict applies to it.
    public var toolsOffered: Bool
    /// Time to first token (first content or tool-call delta), in milliseconds.
    public var ttftMilliseconds: Double?
    /// Total request time, in milliseconds.
    public var latencyMilliseconds: Double?
    /// Output tokens per second after the first token.
    public var outputTokensPerSecond: Double?
    /// For HTTP 429: the provider's Retry-After, in seconds, when known. Read by the rate-limit
    /// rule only (the windows do not keep it).
    public var retryAfterSeconds: Double?

    public init(
        endpointID: String, time: Timestamp, source: ObservationSource, outcome: Outcome,
        toolsOffered: Bool = true, ttftMilliseconds: Double? = nil, latencyMilliseconds: Double? = nil,
        outputTokensPerSecond: Double? = nil, retryAfterSeconds: Double? = nil
    ) {
        self.retryAfterSeconds = retryAfterSeconds
        self.endpointID = endpointID
        self.time = time
        self.source = source
        self.outcome = outcome
        self.toolsOffered = toolsOffered
        self.ttftMilliseconds = ttftMilliseconds
        self.latencyMilliseconds = latencyMilliseconds
        self.outputTokensPerSecond = outputTokensPerSecond
    }
}
