/// OpenRouter's `provider` preferences object, as rankd applies it to a model's current ranking.
public struct ProviderPreferences: Hashable, Sendable {
    /// Provider or endpoint slugs to try first, in this order (demoted ones included, flagged).
    public var order: [String]?
    /// After the eligible `order` entries, the rest by rank (true, default), or nothing else (false).
    public var allowFallbacks = true
    /// Only endpoints supporting every parameter the request uses.
    public var requireParameters = false
    /// `deny`: only endpoints that do not collect data.
    public var dataCollection: DataCollection = .allow
    /// Only zero-data-retention endpoints.
    public var zdr = false
    public var only: [String]?
    public var ignore: [String]?
    /// Allowed quantizations (`fp8`, `bf16`, ...).
    public var quantizations: [String]?
    public var sort: Sort?
    /// Maximum prices in USD (per million prompt/completion tokens, per request).
    public var maxPrice: MaxPrice?
    /// Output tokens/s p50 below this: moved after the others (not excluded).
    public var preferredMinThroughput: Double?
    /// TTFT p50 above this many seconds: moved after the others (not excluded).
    public var preferredMaxLatencySeconds: Double?
    /// Only endpoints serving from one of these regions (`eu`, `us`, ...).
    public var regions: [String]?

    public enum Sort: String, Hashable, Sendable, CaseIterable {
        case price
        case throughput
        case latency
    }

    public struct MaxPrice: Hashable, Sendable {
        public var prompt: Double?
        public var completion: Double?
        public var request: Double?

        public init(prompt: Double? = nil, completion: Double? = nil, request: Double? = nil) {
            self.prompt = prompt
            self.completion = completion
            self.request = request
        }
    }

    public init() {}

    /// Whether a slug names this endpoint: its provider (all of that provider's endpoints) or its id.
    static func matches(_ slug: String, _ endpoint: Endpoint) -> Bool {
        let slug = slug.lowercased()
        return slug == endpoint.provider.lowercased() || slug == endpoint.id.lowercased()
    }
}

/// One routing question: a model, preferences, and the parameters the request uses.
public struct RouteRequest: Hashable, Sendable {
    public var model: String
    public var preferences: ProviderPreferences
    /// Request parameters used (`tools`, `tool_choice`, `response_format`, ...).
    public var parameters: [String]
    /// Makes the price-weighted shuffle reproducible (from the caller's seed or request id).
    public var seed: UInt64

    public init(model: String, preferences: ProviderPreferences = ProviderPreferences(), parameters: [String] = [], seed: UInt64 = 0) {
        self.model = model
        self.preferences = preferences
        self.parameters = parameters
        self.seed = seed
    }

    public var usesTools: Bool { parameters.contains("tools") }
}
