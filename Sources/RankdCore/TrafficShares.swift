import Foundation

/// Each endpoint's intended share of its model's traffic, and the routing score a model's
/// endpoints are ordered by (scoring/README.md, "Traffic shares"). Pure: entries, evidence and
/// policy in; shares, explanations and routing scores out.
///
/// 1. Quality (tool-call success and reliability, as the score weighs them) is a posterior mean
///    with a spread: an endpoint with a few clean probes is not yet known to be worse than one
///    with thousands of requests. Every endpoint whose upper bound (`quality_confidence_z`
///    spreads, plus `quality_tolerance`) reaches the best lower bound is in the top tier, and
///    there its quality counts as the tier's best: speed (throughput, latency) and benchmarks
///    decide. An endpoint known to be worse is in the lower tier: ranked after the top tier, with
///    the floor share only (quality first, as Auto Exacto; speed orders within a tier).
/// 2. Shares: every servable endpoint (ok, insufficient data) gets the exploration floor; the rest
///    is split among the top tier by a softmax of the routing score (`temperature` score points
///    per e-fold), so the best gets most. Demoted and disabled endpoints get 0.
///
/// Nothing here reads an endpoint's id: renaming endpoints never changes a share.
enum TrafficShares {
    /// An endpoint's evidence behind its rate components: weighted requests in the long window.
    struct Evidence {
        var toolCallRequests = 0.0
        var reliabilityRequests = 0.0

        init(toolCallRequests: Double = 0, reliabilityRequests: Double = 0) {
            self.toolCallRequests = toolCallRequests
            self.reliabilityRequests = reliabilityRequests
        }

        init(_ stats: WindowStats, policy: Policy) {
            toolCallRequests = ComponentScorer.toolCounts(stats.long, policy: policy).requests
            reliabilityRequests =
                ComponentScorer.reliabilityCounts(
                    stats.long, ignoring: Set(policy.reliability.ignoredOutcomes), policy: policy
                ).requests
        }
    }

    /// Sets every entry's `explanation.share`; returns the routing scores and whether each entry is
    /// in the top quality tier, by entry index.
    ///
    /// An endpoint with a share limit (`limits`, by entry index: slow, rate-limited) keeps its
    /// status and gets the floor only, as long as another servable endpoint has no limit; with
    /// every servable endpoint limited, the limits give way (never lower everyone).
    static func assign(
        _ entries: inout [EndpointRanking], evidence: [Evidence], limits: [ShareLimit?]? = nil, policy: Policy
    ) -> (routingScores: [Double], topTier: [Bool], limited: [Bool]) {
        let limits = limits ?? Array(repeating: nil, count: entries.count)
        let rule = policy.routing
        let servable = entries.indices.filter { entries[$0].status == .ok || entries[$0].status == .insufficientData }
        var routing = entries.map(\.score)

        let quality = entries.indices.map { qualityEstimate(entries[$0], evidence[$0], policy: policy) }
        let z = rule.qualityConfidenceZ
        let bestLowerBound = servable.compactMap { quality[$0].map { $0.mean - z * $0.spread } }.max()
        var inTopTier = Array(repeating: false, count: entries.count)
        for index in servable {
            guard let estimate = quality[index], let bound = bestLowerBound else {
                inTopTier[index] = true  // nothing known against it
                continue
            }
            inTopTier[index] = estimate.mean + z * estimate.spread + rule.qualityTolerance >= bound
        }
        let topQuality = servable.filter { inTopTier[$0] }.compactMap { quality[$0]?.mean }.max()
        for index in servable where inTopTier[index] {
            guard let estimate = quality[index], let best = topQuality else { continue }
            let weights = entries[index].explanation.weights
            let qualityWeight = (weights[.toolCallSuccess] ?? 0) + (weights[.reliability] ?? 0)
            // Rounded like the score: the lift makes equal-quality endpoints equal up to float
            // noise, and noise must not decide the order (the score does, then price, evidence).
            routing[index] = Scorer.rounded(min(1, entries[index].score + qualityWeight * (best - estimate.mean)))
        }

        // Who competes for the share above the floor: a pinned endpoint alone, else the top tier
        // (with `after_ok`, insufficient-data endpoints only while no endpoint is ok).
        let pinned = servable.filter { entries[$0].override?.action == .pin }
        let anyOK = servable.contains { entries[$0].status == .ok }
        let unlimited = servable.filter { limits[$0] == nil }
        let limited = entries.indices.map { index in
            pinned.isEmpty && !unlimited.isEmpty && limits[index] != nil && servable.contains(index)
        }
        var competing =
            !pinned.isEmpty
            ? pinned
            : servable.filter {
                inTopTier[$0] && !limited[$0]
                    && !(rule.insufficientData == .afterOK && anyOK && entries[$0].status == .insufficientData)
            }
        // The top tier all limited: the others share what is above the floors.
        if competing.isEmpty && pinned.isEmpty {
            competing = unlimited.filter { !(rule.insufficientData == .afterOK && anyOK && entries[$0].status == .insufficientData) }
        }
        let bestRouting = competing.map { routing[$0] }.max() ?? 0
        var weight = Array(repeating: 0.0, count: entries.count)
        for index in competing { weight[index] = exp((routing[index] - bestRouting) / rule.temperature) }
        // Summed in ascending order, so the sum (and every share) is the same whatever the order of the entries.
        let total = weight.sorted().reduce(0, +)
        let floor = servable.isEmpty ? 0 : min(rule.explorationFloor, 1 / Double(servable.count))
        let aboveFloor = 1 - floor * Double(servable.count)

        for index in entries.indices {
            let isServable = entries[index].status == .ok || entries[index].status == .insufficientData
            let share = isServable ? floor + (total > 0 ? aboveFloor * weight[index] / total : 0) : 0
            let basis: String
            if !isServable {
                basis = entries[index].status == .demoted ? ShareBasis.demoted : ShareBasis.disabled
            } else if limited[index], let limit = limits[index] {
                basis = limit.reason
            } else if !pinned.isEmpty {
                basis = pinned.contains(index) ? ShareBasis.operatorPinned : ShareBasis.floorOnly
            } else if !inTopTier[index] {
                basis = ShareBasis.lowerQualityTier
            } else if weight[index] == 0 {
                basis = ShareBasis.floorOnly
            } else {
                basis = ShareBasis.topQualityTier
            }
            entries[index].explanation.share = ShareExplanation(
                share: Scorer.rounded(share), basis: basis, routingScore: Scorer.rounded(routing[index]),
                quality: quality[index].map { Scorer.rounded($0.mean) },
                qualityMargin: quality[index].map { Scorer.rounded(z * $0.spread) },
                floor: isServable ? Scorer.rounded(floor) : 0)
            if limited[index], let limit = limits[index] {
                entries[index].explanation.share?.limitedUntil = limit.until
                entries[index].explanation.share?.limitDetail = limit.detail
                entries[index].reasons.append(limit.reason)
            }
        }
        return (routing, inTopTier, limited)
    }

    /// Tool-call success and reliability blended by their weights, with the posterior standard
    /// deviation of the blend (a Beta posterior's: p(1-p) / (n + prior strength + 1) per rate).
    /// Nil when the entry has neither component.
    static func qualityEstimate(_ entry: EndpointRanking, _ evidence: Evidence, policy: Policy) -> (mean: Double, spread: Double)? {
        var sum = 0.0
        var weightSum = 0.0
        var variance = 0.0
        let strength = policy.priors.strength
        for (component, weight, requests) in [
            (Component.toolCallSuccess, policy.weights.toolCallSuccess, evidence.toolCallRequests),
            (Component.reliability, policy.weights.reliability, evidence.reliabilityRequests),
        ] where weight > 0 {
            guard let rate = entry.components[component] else { continue }
            sum += weight * rate
            weightSum += weight
            variance += weight * weight * rate * (1 - rate) / (requests + strength + 1)
        }
        guard weightSum > 0 else { return nil }
        return (sum / weightSum, variance.squareRoot() / weightSum)
    }
}

/// Why an entry has its traffic share (`explanation.share.basis`).
public enum ShareBasis {
    /// Quality within the top tier's bounds: speed and benchmarks decide its share.
    public static let topQualityTier = "top_quality_tier"
    /// Quality known to be below the top tier's: ranked after it, the floor share only.
    public static let lowerQualityTier = "lower_quality_tier"
    /// Only the exploration floor (policy `insufficient_data: after_ok`, or another endpoint is pinned).
    public static let floorOnly = "floor_only"
    /// Pinned by an operator: everything above the other endpoints' floors.
    public static let operatorPinned = "operator_pinned"
    /// Status ok, share lowered to the floor: slow against its own past and its peers, until `limited_until`.
    public static let latencyDegraded = "latency_degraded"
    /// Status ok, share lowered to the floor: HTTP 429, until its Retry-After (`limited_until`).
    public static let rateLimited = "rate_limited"
    public static let demoted = "demoted"
    public static let disabled = "disabled"
}

/// How an entry's traffic share was made (`explanation.share`).
public struct ShareExplanation: Hashable, Codable, Sendable {
    /// The share, 0...1 (the entry's `traffic_share`).
    public var share: Double
    /// `ShareBasis`: top or lower quality tier, floor only, pinned, demoted, disabled.
    public var basis: String
    /// The score the share and the rank order come from: the score with quality lifted to the
    /// top tier's best for endpoints in that tier.
    public var routingScore: Double
    /// Tool-call success and reliability blended (nil without either).
    public var quality: Double?
    /// `quality_confidence_z` posterior standard deviations of `quality`.
    public var qualityMargin: Double?
    /// The exploration floor it got (0 when not served).
    public var floor: Double
    /// With basis `latency_degraded` or `rate_limited`: the earliest end of the lowered share.
    public var limitedUntil: Timestamp?
    /// With a limit: the figures behind it.
    public var limitDetail: String?

    public init(share: Double, basis: String, routingScore: Double, quality: Double?, qualityMargin: Double?, floor: Double) {
        self.share = share
        self.basis = basis
        self.routingScore = routingScore
        self.quality = quality
        self.qualityMargin = qualityMargin
        self.floor = floor
    }
}
