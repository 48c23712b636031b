/// Applies provider preferences to a model's ranking: filters first (each exclusion with the
/// preference behind it), then the ordering the request calls for. Pure; the shuffle's randomness
/// comes from the request's seed.
public enum RoutePlanner {
    /// Parameters that need endpoint support even without `require_parameters` (as OpenRouter).
    static let alwaysRequired: Set<String> = ["tools", "response_format"]

    public static func route(_ request: RouteRequest, ranking: ModelRanking, epochID: Int64, registry: EndpointDirectory) -> Result<
        RouteAnswer, NoEligibleEndpoint
    > {
        let preferences = request.preferences
        var eligible: [EndpointRanking] = []
        var excluded: [Exclusion] = []
        for entry in ranking.endpoints {
            // An endpoint of the epoch that the registry no longer has (configuration changed since).
            guard let endpoint = registry[entry.endpointID] else {
                excluded.append(Exclusion(endpointID: entry.endpointID, provider: entry.provider, reason: "not_in_registry"))
                continue
            }
            if let reason = exclusionReason(entry, endpoint, request) {
                excluded.append(Exclusion(endpointID: entry.endpointID, provider: entry.provider, reason: reason))
            } else {
                eligible.append(entry)
            }
        }
        guard !eligible.isEmpty else { return .failure(NoEligibleEndpoint(model: request.model, excluded: excluded)) }

        let mode: RouteMode
        var ordered: [EndpointRanking]
        if let order = preferences.order, !order.isEmpty {
            mode = .explicitOrder
            var listed: [EndpointRanking] = []
            for slug in order {
                for entry in eligible where !listed.contains(entry) && ProviderPreferences.matches(slug, registry[entry.endpointID]!) {
                    listed.append(entry)
                }
            }
            ordered = listed + (preferences.allowFallbacks ? healthyFirst(eligible.filter { !listed.contains($0) }) : [])
        } else if let sort = preferences.sort {
            mode = sort == .price ? .sortPrice : sort == .throughput ? .sortThroughput : .sortLatency
            ordered = healthyFirst(
                eligible.sorted { lhs, rhs in
                    let (a, b) = (sortKey(sort, lhs, registry), sortKey(sort, rhs, registry))
                    return a != b ? a < b : lhs.rank < rhs.rank
                })
        } else if request.usesTools {
            mode = .quality
            ordered = shareWeightedDraw(eligible, seed: request.seed)
        } else {
            mode = .priceWeighted
            ordered = priceWeightedShuffle(eligible, registry: registry, seed: request.seed)
        }

        // Preferred throughput/latency: misses move after the others, inside their tier (demoted
        // endpoints stay last, except in an explicit order, which is the caller's).
        let misses = { (entry: EndpointRanking) -> Bool in missesPreference(entry, preferences) }
        if mode != .explicitOrder {
            ordered = stablePartition(ordered) { $0.status == .demoted }.flatMap { group in
                stablePartition(group, by: misses).flatMap { $0 }
            }
        }
        return .success(
            RouteAnswer(
                epochID: epochID, mode: mode, endpoints: ordered.map { RoutedEndpoint(entry: $0, belowPreference: misses($0)) },
                excluded: excluded))
    }

    /// The first preference that rules the endpoint out, or nil.
    static func exclusionReason(_ entry: EndpointRanking, _ endpoint: Endpoint, _ request: RouteRequest) -> String? {
        let preferences = request.preferences
        if entry.status == .disabled { return "disabled" }
        if let only = preferences.only, !only.contains(where: { ProviderPreferences.matches($0, endpoint) }) { return "only" }
        if let ignore = preferences.ignore, ignore.contains(where: { ProviderPreferences.matches($0, endpoint) }) { return "ignore" }
        if let order = preferences.order, !order.isEmpty, !preferences.allowFallbacks,
            !order.contains(where: { ProviderPreferences.matches($0, endpoint) })
        {
            return "allow_fallbacks"
        }
        let required = preferences.requireParameters ? Set(request.parameters) : Set(request.parameters).intersection(alwaysRequired)
        if let missing = required.sorted().first(where: { !endpoint.supportedParameters.contains($0) }) {
            return preferences.requireParameters ? "require_parameters:\(missing)" : "unsupported_parameter:\(missing)"
        }
        if preferences.dataCollection == .deny && endpoint.dataCollection == .allow { return "data_collection" }
        if preferences.zdr && !endpoint.zeroDataRetention { return "zdr" }
        if let quantizations = preferences.quantizations,
            !quantizations.map({ $0.lowercased() }).contains(endpoint.quantization.lowercased())
        {
            return "quantizations"
        }
        if let regions = preferences.regions,
            !regions.contains(where: { region in
                endpoint.regions.contains { $0.lowercased() == region.lowercased() || $0.lowercased().hasPrefix(region.lowercased() + "-") }
            })
        {
            return "region"
        }
        if let max = preferences.maxPrice {
            if let prompt = max.prompt, endpoint.pricing.promptPerMillionTokensUSD > prompt { return "max_price.prompt" }
            if let completion = max.completion, endpoint.pricing.completionPerMillionTokensUSD > completion {
                return "max_price.completion"
            }
            if let perRequest = max.request, endpoint.pricing.perRequestUSD > perRequest { return "max_price.request" }
        }
        return nil
    }

    static func missesPreference(_ entry: EndpointRanking, _ preferences: ProviderPreferences) -> Bool {
        let stats = entry.explanation.stats
        if let minimum = preferences.preferredMinThroughput, (stats.outputTokensPerSecondP50 ?? 0) < minimum { return true }
        if let maximum = preferences.preferredMaxLatencySeconds, (stats.ttftP50Milliseconds ?? .infinity) > maximum * 1_000 { return true }
        return false
    }

    /// Healthy (ok, insufficient data) before demoted, each group's order kept.
    static func healthyFirst(_ entries: [EndpointRanking]) -> [EndpointRanking] {
        stablePartition(entries) { $0.status == .demoted }.flatMap { $0 }
    }

    /// Ascending sort key; unknown figures sort last.
    static func sortKey(_ sort: ProviderPreferences.Sort, _ entry: EndpointRanking, _ registry: EndpointDirectory) -> Double {
        switch sort {
        case .price: return blendedPrice(registry[entry.endpointID]!.pricing)
        case .throughput: return -(entry.explanation.stats.outputTokensPerSecondP50 ?? -Double.infinity)
        case .latency: return entry.explanation.stats.ttftP50Milliseconds ?? .infinity
        }
    }

    /// USD per million tokens, prompt and completion together (the figure price sorting and weighting use).
    static func blendedPrice(_ pricing: Pricing) -> Double {
        pricing.promptPerMillionTokensUSD + pricing.completionPerMillionTokensUSD
    }

    /// OpenRouter's default: healthy endpoints drawn one by one with weight 1/price² (a $1 endpoint
    /// is 9× as likely first as a $3 one), then demoted ones by rank.
    static func priceWeightedShuffle(_ entries: [EndpointRanking], registry: EndpointDirectory, seed: UInt64) -> [EndpointRanking] {
        let healthy = entries.filter { $0.status != .demoted }
        let weights = healthy.map { 1 / pow2(max(0.01, blendedPrice(registry[$0.endpointID]!.pricing))) }
        return weightedDraw(healthy, weights: weights, seed: seed) + entries.filter { $0.status == .demoted }
    }

    /// The quality order for one request: the entries with a traffic share drawn one by one with
    /// their shares as weights (so each is first with its share's probability, among those the
    /// request allows), then the others (demoted, or from an epoch without shares) in rank order.
    static func shareWeightedDraw(_ entries: [EndpointRanking], seed: UInt64) -> [EndpointRanking] {
        let sharing = entries.filter { $0.trafficShare > 0 }
        return weightedDraw(sharing, weights: sharing.map(\.trafficShare), seed: seed) + entries.filter { $0.trafficShare <= 0 }
    }

    /// Draws without replacement, weight-proportional, from SplitMix64(seed): each step takes
    /// u = uniform() × (sum of the remaining weights, added in order), walks the remaining items
    /// subtracting their weights while u ≥ the weight, and takes the item it stops at (the last one
    /// if rounding runs past). docs/api.md gives this in Python so readers reproduce it exactly.
    public static func weightedDraw<T>(_ items: [T], weights: [Double], seed: UInt64) -> [T] {
        var generator = SplitMix64(seed: seed)
        var pool = Array(zip(items, weights))
        var result: [T] = []
        result.reserveCapacity(pool.count)
        while !pool.isEmpty {
            var draw = generator.uniform() * pool.reduce(0) { $0 + $1.1 }
            var index = 0
            while index < pool.count - 1 && draw >= pool[index].1 {
                draw -= pool[index].1
                index += 1
            }
            result.append(pool.remove(at: index).0)
        }
        return result
    }

    static func pow2(_ value: Double) -> Double { value * value }

    /// Splits into (elements failing the predicate, elements passing it), keeping order.
    static func stablePartition<T>(_ items: [T], by predicate: (T) -> Bool) -> [[T]] {
        [items.filter { !predicate($0) }, items.filter(predicate)]
    }
}
