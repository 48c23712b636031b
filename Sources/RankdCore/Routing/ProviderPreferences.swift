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
    /// Makes the per-request draw reproducible (the share draw with tools, the price-weighted
    /// shuffle without): the caller's `seed`, or derived from `request_id`, or (with neither) one
    /// the server picks at random; the answer names it, so any answer can be reproduced.
    public var seed: UInt64
    public var seedSource: SeedSource

    /// Where a request's seed came from.
    public enum SeedSource: String, Hashable, Sendable {
        /// The request's `seed`.
        case seed
        /// FNV-1a 64 of the request's `request_id` (UTF-8), masked to 53 bits (`RouteRequest.seed(requestID:)`).
        case requestID = "request_id"
        /// Neither was given: the server drew one.
        case server
    }

    /// Largest seed: 2^53 - 1, so a seed survives JSON numbers in every language (a double holds it exactly).
    public static let maxSeed: UInt64 = (1 << 53) - 1

    public init(
        model: String, preferences: ProviderPreferences = ProviderPreferences(), parameters: [String] = [], seed: UInt64 = 0,
        seedSource: SeedSource = .seed
    ) {
        self.model = model
        self.preferences = preferences
        self.parameters = parameters
        self.seed = seed
        self.seedSource = seedSource
    }

    /// The seed a `request_id` stands for.
    public static func seed(requestID: String) -> UInt64 { FNV1a.hash(requestID) & maxSeed }

    public var usesTools: Bool { parameters.contains("tools") }
}
