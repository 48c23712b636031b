/// Computes the score components (each 0...1) of every endpoint of one model over one window.
enum ComponentScorer {
    /// With `priorWhenEmpty`, an endpoint without data of its own gets the peer set's pooled rate
    /// (the Beta prior's mean) for the rate components, whenever some peer has data: a new endpoint
    /// is then neither best nor worst, and its first failures can only lower its score. Without it
    /// (the short window) such components are left out, so the long window speaks alone.
    static func components(
        for peers: [Endpoint], tallies: [String: SourceTallies], policy: Policy, priorWhenEmpty: Bool
    ) -> [String: ComponentValues] {
        var result: [String: ComponentValues] = [:]
        let ignored = Set(policy.reliability.ignoredOutcomes)
        let tool = peers.map { toolCounts(tallies[$0.id] ?? SourceTallies(), policy: policy) }
        let reliability = peers.map { reliabilityCounts(tallies[$0.id] ?? SourceTallies(), ignoring: ignored, policy: policy) }
        let toolPrior = pooledRate(tool, fallback: policy.priors.toolCallSuccessRate)
        let reliabilityPrior = pooledRate(reliability, fallback: policy.priors.reliabilityRate)

        let combined = peers.map { (tallies[$0.id] ?? SourceTallies()).combined }
        let throughputP50 = combined.map { $0.outputTokensPerSecond.quantile(0.5) }
        let ttftQuantiles = combined.map { $0.ttftMilliseconds.quantiles(0.5, 0.9) }
        let ttftP50 = ttftQuantiles.map(\.0)
        let ttftP90 = ttftQuantiles.map(\.1)
        let bestThroughput = throughputP50.compactMap { $0 }.max()
        let bestTTFTP50 = ttftP50.compactMap { $0 }.min()
        let bestTTFTP90 = ttftP90.compactMap { $0 }.min()

        for (index, endpoint) in peers.enumerated() {
            var components = ComponentValues()
            if tool[index].0 > 0 || (priorWhenEmpty && toolPrior.fromPeers) {
                components[.toolCallSuccess] = smoothedSuccess(tool[index], priorRate: toolPrior.rate, strength: policy.priors.strength)
            }
            if reliability[index].0 > 0 || (priorWhenEmpty && reliabilityPrior.fromPeers) {
                components[.reliability] = smoothedSuccess(
                    reliability[index], priorRate: reliabilityPrior.rate, strength: policy.priors.strength)
            }
            if let own = throughputP50[index], let best = bestThroughput, best > 0 {
                components[.throughput] = min(1, own / best)
            }
            if let p50 = ttftP50[index], let p90 = ttftP90[index], let best50 = bestTTFTP50, let best90 = bestTTFTP90,
                p50 > 0, p90 > 0
            {
                components[.latency] = min(1, 0.5 * best50 / p50 + 0.5 * best90 / p90)
            }
            result[endpoint.id] = components
        }
        return result
    }

    /// Tool-call (requests, failures), probes and live requests weighted by the policy's source weights.
    static func toolCounts(_ t: SourceTallies, policy: Policy) -> (requests: Double, failures: Double) {
        let (wp, wl) = (policy.sources.probeWeight, policy.sources.liveWeight)
        return (
            wp * Double(t.probe.toolCallRequests) + wl * Double(t.live.toolCallRequests),
            wp * Double(t.probe.toolCallFailures) + wl * Double(t.live.toolCallFailures)
        )
    }

    /// Reliability (requests, failures), weighted the same way; `ignored` outcomes count as neither.
    static func reliabilityCounts(_ t: SourceTallies, ignoring ignored: Set<Outcome>, policy: Policy) -> (
        requests: Double, failures: Double
    ) {
        let (wp, wl) = (policy.sources.probeWeight, policy.sources.liveWeight)
        let p = t.probe.reliabilityCounts(ignoring: ignored)
        let l = t.live.reliabilityCounts(ignoring: ignored)
        return (wp * Double(p.requests) + wl * Double(l.requests), wp * Double(p.failures) + wl * Double(l.failures))
    }

    /// The peer set's pooled success rate, or the policy's prior when no peer has data.
    static func pooledRate(_ counts: [(requests: Double, failures: Double)], fallback: Double) -> (rate: Double, fromPeers: Bool) {
        let requests = counts.reduce(0) { $0 + $1.requests }
        guard requests > 0 else { return (fallback, false) }
        return ((requests - counts.reduce(0) { $0 + $1.failures }) / requests, true)
    }

    /// Beta-smoothed success rate: (successes + k × prior) / (requests + k), in 0...1.
    static func smoothedSuccess(_ counts: (requests: Double, failures: Double), priorRate: Double, strength: Double) -> Double {
        guard counts.requests + strength > 0 else { return priorRate }
        let value = (counts.requests - counts.failures + strength * priorRate) / (counts.requests + strength)
        return min(1, max(0, value))
    }
}
