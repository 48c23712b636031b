import Foundation

/// The slowness rule (`latency_degraded`, `faults.latency`): scoring/README.md section 8.
extension FaultWatch {
    /// Adds a sample to the endpoint's recent window and baselines and judges it.
    /// - Parameter judgeAlone: the sample is slow evidence by itself (a probe past the first-token
    ///   bound): it does not wait for `min_samples`.
    mutating func latency(_ index: Int, _ sample: Sample, judgeAlone: Bool = false) -> FastPathDetector.Trigger? {
        let rule = policy.faults.latency
        // The peers are read only when the endpoint is slow against its own baseline: almost never.
        guard let candidate = Self.slowAgainstItself(&states[index], sample, judgeAlone: judgeAlone, rule: rule) else { return nil }
        // The fastest peer that is not slow itself: there must be somewhere better to send traffic.
        var bestPeerTTFT: Double?
        var bestPeerTPS: Double?
        for peer in peers(of: index) {
            let other = states[peer]
            guard other.slowUntil.map({ $0 <= sample.time }) ?? true else { continue }
            if other.ttft.count >= rule.baselineMinSamples { bestPeerTTFT = min(bestPeerTTFT ?? other.ttft.value, other.ttft.value) }
            if other.tokensPerSecond.count >= rule.baselineMinSamples {
                bestPeerTPS = max(bestPeerTPS ?? other.tokensPerSecond.value, other.tokensPerSecond.value)
            }
        }
        var detail: String?
        if let ttft = candidate.ttft, let peer = bestPeerTTFT, ttft >= rule.peerRatio * peer {
            detail =
                judgeAlone
                ? "probe without a first token after \(Self.format(ttft)) ms; fastest peer's TTFT \(Self.format(peer)) ms"
                : "TTFT median \(Self.format(ttft)) ms of the last \(rule.minSamples) samples; "
                    + "own baseline \(Self.format(candidate.ttftBaseline ?? 0)) ms, fastest peer \(Self.format(peer)) ms"
        } else if let tps = candidate.tokensPerSecond, let peer = bestPeerTPS, tps * rule.peerRatio <= peer {
            detail =
                "output \(Self.format(tps)) tokens/s median of the last \(rule.minSamples) samples; "
                + "own baseline \(Self.format(candidate.tpsBaseline ?? 0)), fastest peer \(Self.format(peer))"
        }
        guard let detail else { return nil }
        states[index].slowUntil = sample.time.adding(seconds: rule.holdSeconds)
        states[index].slowDetail = detail
        return FastPathDetector.Trigger(endpointID: ids[index], reason: ReasonCode.latencyDegraded, at: sample.time, detail: detail)
    }

    /// What the peers must be compared with: the recent medians that are slow against the
    /// endpoint's own baseline (a probe past the first-token bound by itself).
    struct SlowCandidate {
        var ttft: Double?
        var tokensPerSecond: Double?
        var ttftBaseline: Double?
        var tpsBaseline: Double?
    }

    /// Adds the sample to the endpoint's recent samples and baselines; while its share is
    /// lowered, a slow sample keeps it lowered for another hold. Returns the medians to compare
    /// with the peers when they are slow against the endpoint's own baseline, else nil.
    static func slowAgainstItself(
        _ state: inout State, _ sample: Sample, judgeAlone: Bool, rule: Policy.LatencyDegradation
    ) -> SlowCandidate? {
        // Only the latest `min_samples` are ever judged: keeping more would cost a busy endpoint
        // thousands of samples per window.
        if state.recent.count >= rule.minSamples { state.recent.removeFirst(state.recent.count - rule.minSamples + 1) }
        state.recent.append(sample)
        while let first = state.recent.first, sample.time.seconds(since: first.time) > rule.windowSeconds { state.recent.removeFirst() }

        // In log space: a sample costs one `log` per figure, no `exp`.
        let logRatio = log(rule.slowdownRatio)
        let ttftKnown = state.ttft.count >= rule.baselineMinSamples
        let tpsKnown = state.tokensPerSecond.count >= rule.baselineMinSamples
        let logTTFT = sample.ttft.flatMap { $0 > 0 ? log($0) : nil }
        let logTPS = sample.tokensPerSecond.flatMap { $0 > 0 ? log($0) : nil }
        let slowTTFT = ttftKnown && logTTFT.map { $0 >= state.ttft.mean + logRatio } ?? false
        let slowTPS = tpsKnown && logTPS.map { $0 + logRatio <= state.tokensPerSecond.mean } ?? false
        let slowAlone = judgeAlone && (!ttftKnown || slowTTFT)
        if let logTTFT, !judgeAlone { state.ttft.add(log: logTTFT, slow: slowTTFT) }
        if let logTPS { state.tokensPerSecond.add(log: logTPS, slow: slowTPS) }

        if state.slowUntil.map({ $0 > sample.time }) ?? false {
            if slowTTFT || slowTPS || slowAlone { state.slowUntil = sample.time.adding(seconds: rule.holdSeconds) }
            return nil
        }
        // Only a slow sample can make the latest ones slow: the others are judged no further.
        guard slowTTFT || slowTPS || slowAlone else { return nil }
        let ttftBaseline = ttftKnown ? state.ttft.value : nil
        let tpsBaseline = tpsKnown ? state.tokensPerSecond.value : nil
        if judgeAlone { return slowAlone ? SlowCandidate(ttft: sample.ttft, ttftBaseline: ttftBaseline) : nil }
        // Most samples are not slow: counted first, without allocating; the medians only when at
        // least half the recent samples are past the threshold.
        guard state.recent.count >= rule.minSamples else { return nil }
        var slowTTFTs = 0
        var slowRates = 0
        for recent in state.recent {
            if let value = recent.ttft, let own = ttftBaseline, value >= rule.slowdownRatio * own { slowTTFTs += 1 }
            if let value = recent.tokensPerSecond, let own = tpsBaseline, value * rule.slowdownRatio <= own { slowRates += 1 }
        }
        guard 2 * slowTTFTs >= rule.minSamples || 2 * slowRates >= rule.minSamples else { return nil }
        var candidate = SlowCandidate(ttftBaseline: ttftBaseline, tpsBaseline: tpsBaseline)
        if let own = ttftBaseline {
            let ttfts = state.recent.compactMap(\.ttft)
            if ttfts.count >= rule.minSamples, let median = OutlierRules.median(ttfts), median >= rule.slowdownRatio * own {
                candidate.ttft = median
            }
        }
        if let own = tpsBaseline {
            let rates = state.recent.compactMap(\.tokensPerSecond)
            if rates.count >= rule.minSamples, let median = OutlierRules.median(rates), median * rule.slowdownRatio <= own {
                candidate.tokensPerSecond = median
            }
        }
        return candidate.ttft != nil || candidate.tokensPerSecond != nil ? candidate : nil
    }
}

/// A lowered traffic share in force for an endpoint whose status stays ok: the floor only, until
/// `until` (slowness, rate limits).
public struct ShareLimit: Hashable, Codable, Sendable {
    /// `latency_degraded` or `rate_limited`.
    public var reason: String
    public var until: Timestamp
    /// The figures behind it, for the explanation.
    public var detail: String

    public init(reason: String, until: Timestamp, detail: String) {
        self.reason = reason
        self.until = until
        self.detail = detail
    }
}
