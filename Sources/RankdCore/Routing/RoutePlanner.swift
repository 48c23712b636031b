/// Applies provider preferences to a model's ranking: filters first (each exclusion with the
/// preference behind it), then the ordering the request calls for. Pure; the shuffle's randomness
/// comes from the request's seed.
public enum RoutePlanner {
    /// Parameters that need endpoint support even without `require_parameters` (as OpenRouter).
    static let alwaysRequired: Set<String> = ["tools", "response_format"]

    /// `figures`: each endpoint's figures over the rolling `routing.preference_window_seconds`,
    /// which the preferred cut-offs are judged on; nil where the server keeps no such window
    /// (then the epoch's p50 figures are, and the answer notes it).
    public static func route(
        _ request: RouteRequest, ranking: ModelRanking, epochID: Int64, registry: EndpointDirectory, figures: [String: WindowFigures]? = nil
    ) -> Result<RouteAnswer, NoEligibleEndpoint> {
        // Positions in `ranking.endpoints` throughout, not copies of the (large) entries: the
        // route answer is per request, and copying entries was most of its cost.
        let entries = ranking.endpoints
        let (preferences, quality, notes) = effectivePreferences(request)
        var eligible: [Int] = []
        eligible.reserveCapacity(entries.count)
        // Each entry's position in the registry (-1: not there), read in place instead of copied.
        var registryPosition = Array(repeating: -1, count: entries.count)
        var excluded: [Exclusion] = []
        for index in entries.indices {
            // An endpoint of the epoch that the registry no longer has (configuration changed since).
            guard let position = registry.position(of: entries[index].endpointID) else {
                excluded.append(
                    Exclusion(endpointID: entries[index].endpointID, provider: entries[index].provider, reason: "not_in_registry"))
                continue
            }
            if let reason = exclusionReason(entries[index], registry.endpoints[position], request) {
                excluded.append(Exclusion(endpointID: entries[index].endpointID, provider: entries[index].provider, reason: reason))
            } else {
                eligible.append(index)
                registryPosition[index] = position
            }
        }
        let endpointOf = { (index: Int) -> Endpoint in registry.endpoints[registryPosition[index]] }
        var allNotes = notes
        if let tokens = request.contextTokens {
            let unknown = eligible.count { endpointOf($0).contextLength == nil }
            if unknown > 0 {
                allNotes.append(
                    "context_tokens \(tokens): \(unknown) endpoint(s) have no context_length in the registry and were kept")
            }
        }
        guard !eligible.isEmpty else { return .failure(NoEligibleEndpoint(model: request.model, excluded: excluded)) }
        let isDemoted = { (index: Int) in entries[index].status == .demoted }

        let mode: RouteMode
        var ordered: [Int]
        if let order = preferences.order, !order.isEmpty {
            mode = .explicitOrder
            var listed: [Int] = []
            for slug in order {
                for index in eligible where !listed.contains(index) && ProviderPreferences.matches(slug, endpointOf(index)) {
                    listed.append(index)
                }
            }
            // The fallbacks healthy first; the caller's own list stays as given (the partition below skips this mode).
            let rest = eligible.filter { !listed.contains($0) }
            ordered = listed + (preferences.allowFallbacks ? stablePartition(rest, by: isDemoted).flatMap { $0 } : [])
        } else if let sort = preferences.sort {
            mode = sort == .price ? .sortPrice : sort == .throughput ? .sortThroughput : .sortLatency
            // Demoted ones go last in the partition below.
            ordered = eligible.sorted { lhs, rhs in
                let (a, b) = (sortKey(sort, entries[lhs], endpointOf(lhs)), sortKey(sort, entries[rhs], endpointOf(rhs)))
                return a != b ? a < b : entries[lhs].rank < entries[rhs].rank
            }
        } else if quality {
            mode = .quality
            ordered = shareWeightedDraw(eligible, shares: eligible.map { entries[$0].trafficShare }, seed: request.seed)
        } else {
            mode = .priceWeighted
            let healthy = eligible.filter { !isDemoted($0) }
            let weights = healthy.map { 1 / pow2(max(0.01, blendedPrice(endpointOf($0).pricing))) }
            ordered = weightedDraw(healthy, weights: weights, seed: request.seed) + eligible.filter(isDemoted)
        }

        // Preferred throughput/latency: misses move after the others, inside their tier (demoted
        // endpoints stay last, except in an explicit order, which is the caller's).
        let misses = { (index: Int) -> Bool in missesPreference(entries[index], preferences, figures: figures) }
        if figures == nil, preferences.hasCutoffs {
            let cutoffs = [preferences.preferredMinThroughput, preferences.preferredMaxLatencySeconds].compactMap { $0 }
            allNotes.append(
                "preferred cut-offs judged on the epoch's p50 figures: the rolling window's figures are unavailable (no window kept here, or it could not be read)"
                    + (cutoffs.contains { $0.keys.contains { $0 != .p50 } } ? " (p75, p90 and p99 cut-offs not applied)" : ""))
        }
        if mode != .explicitOrder {
            ordered = stablePartition(ordered, by: isDemoted).flatMap { group in stablePartition(group, by: misses).flatMap { $0 } }
        }
        // No fallbacks and no order: only the top endpoint of the order serves (OpenRouter's
        // meaning); the others are listed as excluded by it, so the gateway returns its error.
        if !preferences.allowFallbacks && mode != .explicitOrder && ordered.count > 1 {
            for index in ordered.dropFirst() {
                excluded.append(Exclusion(endpointID: entries[index].endpointID, provider: entries[index].provider, reason: "allow_fallbacks"))
            }
            ordered = [ordered[0]]
        }
        return .success(
            RouteAnswer(
                epochID: epochID, mode: mode,
                endpoints: ordered.map { RoutedEndpoint(entry: entries[$0], belowPreference: misses($0)) },
                excluded: excluded, positions: ordered, notes: allNotes))
    }

    /// The preferences the ordering uses once the model's variant is applied, whether the quality
    /// order applies (tools, a tool choice, or `:exacto`), and notes on what was taken otherwise.
    static func effectivePreferences(_ request: RouteRequest) -> (ProviderPreferences, quality: Bool, notes: [String]) {
        var preferences = request.preferences
        var quality = request.usesTools
        var notes: [String] = []
        let ordered = preferences.order.map { !$0.isEmpty } ?? false
        switch request.variant {
        case nil:
            break
        case .exacto?:
            if ordered || preferences.sort != nil {
                notes.append(":exacto asks for the quality order; provider.\(ordered ? "order" : "sort"), given with it, decides the order")
            }
            quality = true
        case let variant?:
            let wanted: ProviderPreferences.Sort = variant == .nitro ? .throughput : .price
            if ordered {
                notes.append(":\(variant.rawValue) sorts by \(wanted.rawValue); provider.order, given with it, decides the order")
            } else if let explicit = preferences.sort, explicit != wanted {
                notes.append(
                    ":\(variant.rawValue) sorts by \(wanted.rawValue); provider.sort \(explicit.rawValue), given with it, decides the order")
            } else {
                preferences.sort = wanted
            }
        }
        if preferences.sortPartition == "none" {
            notes.append("provider.sort.partition none: rankd routes one model per request, so the order is the same as with model")
        }
        return (preferences, quality, notes)
    }

    /// The first preference that rules the endpoint out, or nil.
    static func exclusionReason(_ entry: EndpointRanking, _ endpoint: Endpoint, _ request: RouteRequest) -> String? {
        let preferences = request.preferences
        if entry.status == .disabled { return "disabled" }
        if let tokens = request.contextTokens, let length = endpoint.contextLength, length < tokens { return "context_length" }
        if let only = preferences.only, !only.contains(where: { ProviderPreferences.matches($0, endpoint) }) { return "only" }
        if let ignore = preferences.ignore, ignore.contains(where: { ProviderPreferences.matches($0, endpoint) }) { return "ignore" }
        if let order = preferences.order, !order.isEmpty, !preferences.allowFallbacks,
            !order.contains(where: { ProviderPreferences.matches($0, endpoint) })
        {
            return "allow_fallbacks"
        }
        if let missing = requiredParameters(request).first(where: { !endpoint.supportedParameters.contains($0) }) {
            return preferences.requireParameters ? "require_parameters:\(missing)" : "unsupported_parameter:\(missing)"
        }
        if preferences.dataCollection == .deny && endpoint.dataCollection == .allow { return "data_collection" }
        if preferences.zdr && !endpoint.zeroDataRetention { return "zdr" }
        if preferences.enforceDistillableText && endpoint.distillable != true { return "enforce_distillable_text" }
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
            if let image = max.image, (endpoint.pricing.perImageUSD ?? 0) > image { return "max_price.image" }
        }
        return nil
    }

    /// The parameters an endpoint must support, sorted: every one with `require_parameters`, else
    /// only those OpenRouter always requires. No set is built for the usual requests (a few
    /// parameters, checked per entry per request).
    static func requiredParameters(_ request: RouteRequest) -> [String] {
        let wanted = request.preferences.requireParameters ? request.parameters : request.parameters.filter(alwaysRequired.contains)
        if wanted.count < 2 { return wanted }
        return Array(Set(wanted)).sorted()
    }

    /// Whether the endpoint misses a preferred cut-off: every percentile given must hold over the
    /// rolling window (OpenRouter's rule); an endpoint with no figures there misses (it moves
    /// back, it is not excluded).
    static func missesPreference(_ entry: EndpointRanking, _ preferences: ProviderPreferences, figures: [String: WindowFigures]?) -> Bool {
        guard preferences.hasCutoffs else { return false }
        let throughput: (Percentiles.Percentile) -> Double?
        let ttft: (Percentiles.Percentile) -> Double?
        if let figures {
            let window = figures[entry.endpointID]
            throughput = { window?.outputTokensPerSecond?[$0] }
            ttft = { window?.ttftMilliseconds?[$0] }
        } else {
            let stats = entry.explanation.stats
            throughput = { $0 == .p50 ? stats.outputTokensPerSecondP50 : nil }
            ttft = { $0 == .p50 ? stats.ttftP50Milliseconds : nil }
        }
        for (percentile, minimum) in preferences.preferredMinThroughput ?? [:] {
            guard figures != nil || percentile == .p50 else { continue }
            if (throughput(percentile) ?? 0) < minimum { return true }
        }
        for (percentile, maximum) in preferences.preferredMaxLatencySeconds ?? [:] {
            guard figures != nil || percentile == .p50 else { continue }
            if (ttft(percentile) ?? .infinity) > maximum * 1_000 { return true }
        }
        return false
    }

    /// Ascending sort key; unknown figures sort last.
    static func sortKey(_ sort: ProviderPreferences.Sort, _ entry: EndpointRanking, _ endpoint: Endpoint) -> Double {
        switch sort {
        case .price: return blendedPrice(endpoint.pricing)
        case .throughput: return -(entry.explanation.stats.outputTokensPerSecondP50 ?? -Double.infinity)
        case .latency: return entry.explanation.stats.ttftP50Milliseconds ?? .infinity
        }
    }

    /// USD per million tokens, prompt and completion together (the figure price sorting and weighting use).
    static func blendedPrice(_ pricing: Pricing) -> Double {
        pricing.promptPerMillionTokensUSD + pricing.completionPerMillionTokensUSD
    }

    /// The quality order for one request: the items with a traffic share drawn one by one with
    /// their shares as weights (so each is first with its share's probability, among those the
    /// request allows), then the others (demoted, or from an epoch without shares) in rank order.
    /// (Without tools, OpenRouter's default applies instead: healthy endpoints drawn with weight
    /// 1/price², a $1 endpoint 9× as likely first as a $3 one, then demoted ones by rank.)
    static func shareWeightedDraw<T>(_ items: [T], shares: [Double], seed: UInt64) -> [T] {
        var sharing: [T] = []
        var weights: [Double] = []
        var rest: [T] = []
        for (item, share) in zip(items, shares) {
            if share > 0 {
                sharing.append(item)
                weights.append(share)
            } else {
                rest.append(item)
            }
        }
        return weightedDraw(sharing, weights: weights, seed: seed) + rest
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
