/// Applies `OutlierRules` to one model's endpoints over the short window and collects, per
/// endpoint, the reason codes that fire this epoch (fast-path reasons included).
enum OutlierDetection {
    static func firingReasons(
        for peers: [Endpoint], stats: [String: WindowStats], policy: Policy, fastPath: [String: [String]]
    ) -> [String: [String]] {
        let ignored = Set(policy.reliability.ignoredOutcomes)
        let short = peers.map { stats[$0.id]?.short.combined ?? Tally() }
        let tool = short.map { (requests: $0.toolCallRequests, failures: $0.toolCallFailures) }
        let errors = short.map { $0.reliabilityCounts(ignoring: ignored) }
        let toolTotal = tool.reduce((requests: Int64(0), failures: Int64(0))) { ($0.requests + $1.requests, $0.failures + $1.failures) }
        let errorTotal = errors.reduce((requests: Int64(0), failures: Int64(0))) { ($0.requests + $1.requests, $0.failures + $1.failures) }

        let rule = policy.demotion.latencyOutlier
        let ttft = short.map { $0.ttftMilliseconds.count >= Int64(rule.minSamples) ? $0.ttftMilliseconds.quantile(0.5) : nil }
        let latencyThreshold = OutlierRules.latencyThreshold(peerValues: ttft.compactMap { $0 }, rule: rule)

        var firing: [String: [String]] = [:]
        for (index, endpoint) in peers.enumerated() {
            var reasons: [String] = []
            if OutlierRules.isFailureOutlier(
                failures: tool[index].failures, requests: tool[index].requests,
                peerFailures: toolTotal.failures - tool[index].failures, peerRequests: toolTotal.requests - tool[index].requests,
                priorFailureRate: 1 - policy.priors.toolCallSuccessRate, rule: policy.demotion.failureOutlier)
            {
                reasons.append(ReasonCode.toolCallFailureOutlier)
            }
            if OutlierRules.isFailureOutlier(
                failures: errors[index].failures, requests: errors[index].requests,
                peerFailures: errorTotal.failures - errors[index].failures, peerRequests: errorTotal.requests - errors[index].requests,
                priorFailureRate: 1 - policy.priors.reliabilityRate, rule: policy.demotion.failureOutlier)
            {
                reasons.append(ReasonCode.errorRateOutlier)
            }
            if let threshold = latencyThreshold, let value = ttft[index], value > threshold {
                reasons.append(ReasonCode.latencyOutlier)
            }
            for reason in fastPath[endpoint.id] ?? [] where !reasons.contains(reason) {
                reasons.append(reason)
            }
            if !reasons.isEmpty { firing[endpoint.id] = reasons }
        }
        return firing
    }
}
