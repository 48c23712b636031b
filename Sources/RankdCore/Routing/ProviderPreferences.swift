/// OpenRouter's `provider` preferences object, as rankd applies it to a model's current ranking.
public struct ProviderPreferences: Hashable, Sendable {
    /// Provider or endpoint slugs to try first, in this order (demoted ones included, flagged).
    public var order: [String]?
    /// After the eligible `order` entries, the rest by rank (true, default), or nothing else
    /// (false); without `order`, false keeps only the first endpoint of the order (OpenRouter:
    /// only the top provider serves the request, its error comes back).
    public var allowFallbacks = true
    /// Only endpoints supporting every parameter the request uses.
    public var requireParameters = false
    /// `deny`: only endpoints that do not collect data.
    public var dataCollection: DataCollection = .allow
    /// Only zero-data-retention endpoints.
    public var zdr = false
    /// Only endpoints whose registry entry says `distillable: true`.
    public var enforceDistillableText = false
    public var only: [String]?
    public var ignore: [String]?
    /// Allowed quantizations (`fp8`, `bf16`, ...).
    public var quantizations: [String]?
    public var sort: Sort?
    /// `sort.partition`: `model` (the default) or `none`; rankd routes one model per request, so
    /// both order the same (the answer notes `none`).
    public var sortPartition: String?
    /// Maximum prices in USD (per million prompt/completion tokens, per request).
    public var maxPrice: MaxPrice?
    /// Output tokens/s below these at their percentiles (a number: p50) over the rolling
    /// `routing.preference_window_seconds`: moved after the others (not excluded).
    public var preferredMinThroughput: [Percentiles.Percentile: Double]?
    /// TTFT above these many seconds at their percentiles likewise.
    public var preferredMaxLatencySeconds: [Percentiles.Percentile: Double]?

    /// Whether a preferred cut-off is given (judged over the rolling window's figures).
    public var hasCutoffs: Bool { preferredMinThroughput != nil || preferredMaxLatencySeconds != nil }
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
        /// USD per input image.
        public var image: Double?

        public init(prompt: Double? = nil, completion: Double? = nil, request: Double? = nil, image: Double? = nil) {
            self.image = image
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

/// OpenRouter's model shortcuts: a suffix on the model slug that sets how endpoints are ordered.
public enum ModelVariant: String, Hashable, Sendable, CaseIterable {
    /// Sort by throughput (as `provider.sort: throughput`).
    case nitro
    /// Sort by price (as `provider.sort: price`).
    case floor
    /// rankd's quality order (the traffic-share draw), with or without tools.
    case exacto

    /// Splits `author/name:variant` into the model and a known variant; nil when the slug has no
    /// suffix of a known variant (the caller decides what an unknown suffix means).
    public static func split(_ slug: String) -> (model: String, variant: ModelVariant)? {
        guard let colon = slug.lastIndex(of: ":"), let variant = ModelVariant(rawValue: String(slug[slug.index(after: colon)...])) else {
            return nil
        }
        let model = String(slug[..<colon])
        return model.isEmpty ? nil : (model, variant)
    }

    /// A slug split at the last `:` of its name part, known variant or not (`("a/b", "free")` of
    /// `a/b:free`); nil without one.
    public static func suffixed(_ slug: String) -> (model: String, suffix: String)? {
        let name = slug.split(separator: "/").last.map(String.init) ?? slug
        guard let colon = name.lastIndex(of: ":") else { return nil }
        let suffix = String(name[name.index(after: colon)...])
        return (String(slug.dropLast(suffix.count + 1)), suffix)
    }
}

/// One routing question: a model, preferences, and the parameters the request uses.
public struct RouteRequest: Hashable, Sendable {
    public var model: String
    /// The model slug as the request gave it (with its variant suffix, if any).
    public var requestedModel: String
    /// A shortcut the slug carried (`:nitro`, `:floor`, `:exacto`).
    public var variant: ModelVariant?
    /// Tokens the request needs the context window to hold (prompt and output): endpoints with a
    /// smaller `context_length` are excluded (`context_length`).
    public var contextTokens: Int?
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
        self.requestedModel = model
        self.preferences = preferences
        self.parameters = parameters
        self.seed = seed
        self.seedSource = seedSource
    }

    /// The seed a `request_id` stands for.
    public static func seed(requestID: String) -> UInt64 { FNV1a.hash(requestID) & maxSeed }

    /// Tools or a tool choice: the quality order applies (as OpenRouter routes both to tool-capable
    /// providers, and Auto Exacto orders them).
    public var usesTools: Bool { parameters.contains("tools") || parameters.contains("tool_choice") }
}
