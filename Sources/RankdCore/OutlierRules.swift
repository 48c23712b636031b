/// The statistical tests behind outlier demotion, as pure functions that tests call directly.
public enum OutlierRules {
    /// One-sided two-proportion z statistic: how far `failures/requests` is above the peers'
    /// pooled rate, in standard errors. Nil when either side has no requests or there is no variance.
    public static func twoProportionZ(failures: Int64, requests: Int64, peerFailures: Int64, peerRequests: Int64) -> Double? {
        guard requests > 0, peerRequests > 0 else { return nil }
        let n1 = Double(requests)
        let n2 = Double(peerRequests)
        let p1 = Double(failures) / n1
        let p2 = Double(peerFailures) / n2
        let pooled = Double(failures + peerFailures) / (n1 + n2)
        let variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
        guard variance > 0 else { return nil }
        return (p1 - p2) / variance.squareRoot()
    }

    /// One-sample z statistic of `failures/requests` against an expected rate.
    public static func oneSampleZ(failures: Int64, requests: Int64, expectedRate: Double) -> Double? {
        guard requests > 0, expectedRate > 0, expectedRate < 1 else { return nil }
        let n = Double(requests)
        let p = Double(failures) / n
        return (p - expectedRate) / (expectedRate * (1 - expectedRate) / n).squareRoot()
    }

    /// Whether an endpoint's failure rate is an outlier against its peers: enough volume, a
    /// significant z, and a material excess. Peers without enough volume are replaced by the
    /// policy's prior failure rate (a one-sample test).
    public static func isFailureOutlier(
        failures: Int64, requests: Int64, peerFailures: Int64, peerRequests: Int64, priorFailureRate: Double,
        rule: Policy.FailureOutlier
    ) -> Bool {
        guard requests >= Int64(rule.minRequests) else { return false }
        let rate = Double(failures) / Double(requests)
        let baseline: Double
        let z: Double?
        if peerRequests >= Int64(rule.minRequests) {
            baseline = Double(peerFailures) / Double(peerRequests)
            z = twoProportionZ(failures: failures, requests: requests, peerFailures: peerFailures, peerRequests: peerRequests)
        } else {
            baseline = priorFailureRate
            z = oneSampleZ(failures: failures, requests: requests, expectedRate: priorFailureRate)
        }
        guard let z, rate - baseline >= rule.minExcessRate else { return false }
        return z >= rule.zCritical
    }

    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Median absolute deviation scaled by 1.4826, a robust estimate of the standard deviation.
    public static func scaledMAD(_ values: [Double]) -> Double? {
        guard let center = median(values) else { return nil }
        return median(values.map { abs($0 - center) }).map { $0 * 1.4826 }
    }

    /// The TTFT above which an endpoint is a latency outlier among `peerValues` (all endpoints
    /// with enough data, itself included), or nil when there are too few peers. The MAD is floored
    /// at 5% of the median so identical peers do not make every small difference an outlier.
    public static func latencyThreshold(peerValues: [Double], rule: Policy.LatencyOutlier) -> Double? {
        guard peerValues.count >= rule.minPeers, let center = median(peerValues), let mad = scaledMAD(peerValues) else {
            return nil
        }
        return max(center + rule.madMultiplier * max(mad, 0.05 * center), center * rule.minRatio)
    }
}
