/// The endpoints a gateway should try, in order, and why the others are not there.
public struct RouteAnswer: Hashable, Sendable {
    public var epochID: Int64
    public var mode: RouteMode
    public var endpoints: [RoutedEndpoint]
    public var excluded: [Exclusion]
    /// Where each of `endpoints` stands in the ranking it was planned from (`ModelRanking.endpoints`
    /// indices), so an encoder can reuse what it has per ranking entry.
    public var positions: [Int]
    /// What of the request rankd took differently from what it says, or could not honour, in words
    /// (never a silent drop).
    public var notes: [String] = []
}

/// Which ordering applied.
public enum RouteMode: String, Hashable, Sendable {
    /// rankd's quality ranking (requests with tools, as Auto Exacto).
    case quality
    /// OpenRouter's default without tools: a shuffle weighted by 1/price² among healthy endpoints.
    case priceWeighted = "price_weighted"
    case sortPrice = "sort_price"
    case sortThroughput = "sort_throughput"
    case sortLatency = "sort_latency"
    /// The caller's `order`, kept as given.
    case explicitOrder = "explicit_order"
}

public struct RoutedEndpoint: Hashable, Sendable {
    public var entry: EndpointRanking
    /// Missed `preferred_min_throughput` or `preferred_max_latency` (moved back).
    public var belowPreference: Bool
}

public struct Exclusion: Hashable, Sendable {
    public var endpointID: String
    public var provider: String
    /// The preference that excluded it, e.g. `ignore`, `max_price.prompt`, `require_parameters:response_format`.
    public var reason: String
}

/// No endpoint survived the preferences: every exclusion, for a 404 that says why.
public struct NoEligibleEndpoint: Error, Hashable, Sendable {
    public var model: String
    public var excluded: [Exclusion]
}
