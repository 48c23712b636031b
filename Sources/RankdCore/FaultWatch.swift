import Foundation

/// Between epochs, per endpoint, the fault rules beside the fast path's runs and bursts
/// (scoring/README.md, "Fault reaction"). Pure: observations and times in, events out.
///
/// - Slowness (`latency_degraded`): the recent median TTFT (or tokens/s) against the endpoint's
///   own baseline and its fastest peer's. Lowers the share to the floor; the status stays ok.
/// - Rate limits (`rate_limited`): a 429 lowers the share until its Retry-After.
/// - Failure-rate change (`failure_rate_change`): a CUSUM of gateway-visible failures against the
///   endpoint's own running rate. Demotes.
/// - Known-answer failures (`known_answer_failures`): a CUSUM of probe tool-call failures against
///   the peers' probe failure rate. Demotes.
public struct FaultWatch: Sendable {
    public let policy: Policy
    private var states: [String: State] = [:]
    /// Every enabled endpoint's peers (the other enabled endpoints of its model).
    private let peers: [String: [String]]

    struct State: Sendable {
        var ttft = LogBaseline()
        var tokensPerSecond = LogBaseline()
        /// The latest `min_samples` samples of the last `window_seconds`, oldest first.
        var recent: [Sample] = []
        var slowUntil: Timestamp?
        var slowDetail = ""
        var rateLimitedUntil: Timestamp?
        var rateLimitDetail = ""
        var failures = RunningRate()
        var failureCUSUM = 0.0
        var probeFailures = RunningRate()
        var knownAnswerCUSUM = 0.0
        /// Live requests, decayed with a one-minute time constant (`liveRequestsPerSecond`).
        var liveCount = 0.0
        var liveCountAt: Timestamp?
    }

    /// Time constant of the live request rate, in seconds.
    static let rateSeconds = 60.0

    struct Sample: Sendable {
        var time: Timestamp
        var ttft: Double?
        var tokensPerSecond: Double?
    }

    /// A running mean of log values: a geometric-mean baseline that a few outliers barely move.
    struct LogBaseline: Sendable {
        var mean = 0.0
        var count = 0

        var value: Double? { count > 0 ? exp(mean) : nil }

        /// Samples judged slow move it 16 times less, so a fault does not become the baseline
        /// within the minutes it lasts, and a lasting change still does.
        mutating func add(_ sample: Double, slow: Bool) {
            guard sample > 0 else { return }
            count += 1
            let weight = max(1 / Double(count), 1 / 64) / (slow ? 16 : 1)
            mean += weight * (log(sample) - mean)
        }
    }

    /// A failure rate: the mean of the first observations, then an exponential average over about
    /// the last thousand.
    struct RunningRate: Sendable {
        var rate = 0.0
        var count = 0

        mutating func add(failed: Bool) {
            count += 1
            rate += max(1 / Double(count), 1 / 1_000) * ((failed ? 1 : 0) - rate)
        }
    }

    /// What a rule decided for one endpoint.
    public enum Event: Hashable, Sendable {
        /// Demote now (a fast-path reason for the next epoch).
        case demote(FastPathDetector.Trigger)
        /// The share is lowered from now on (no limit was in force).
        case limit(FastPathDetector.Trigger)
    }

    /// - Parameter endpoints: the registry; disabled endpoints are nobody's peers.
    public init(policy: Policy, endpoints: [Endpoint]) {
        self.policy = policy
        var byModel: [String: [String]] = [:]
        for endpoint in endpoints where endpoint.enabled { byModel[endpoint.model, default: []].append(endpoint.id) }
        var peers: [String: [String]] = [:]
        for ids in byModel.values {
            for id in ids { peers[id] = ids.filter { $0 != id } }
        }
        self.peers = peers
    }

    /// Counts one observation; returns what it set off.
    public mutating func record(_ observation: Observation) -> [Event] {
        guard peers[observation.endpointID] != nil else { return [] }
        let id = observation.endpointID
        var events: [Event] = []
        var state = states[id] ?? State()
        let outcome = observation.outcome
        if observation.source == .live {
            let last = state.liveCountAt ?? observation.time
            let elapsed = max(0, observation.time.seconds(since: last))
            state.liveCount = state.liveCount * exp(-elapsed / Self.rateSeconds) + 1
            if observation.time > last || state.liveCountAt == nil { state.liveCountAt = observation.time }
        }
        if outcome == .http429 {
            if let event = rateLimit(&state, observation) { events.append(event) }
        } else if !policy.reliability.ignoredOutcomes.contains(outcome) || outcome.isToolCallFailure {
            if let event = failureChange(&state, observation) { events.append(event) }
        }
        if observation.source == .probe, outcome == .ok || outcome.isToolCallFailure {
            if let event = knownAnswer(&state, observation, id: id) { events.append(event) }
        }
        if observation.ttftMilliseconds != nil || observation.outputTokensPerSecond != nil {
            states[id] = state
            if let event = latency(
                id, Sample(time: observation.time, ttft: observation.ttftMilliseconds, tokensPerSecond: observation.outputTokensPerSecond))
            {
                events.append(event)
            }
            return events
        }
        states[id] = state
        return events
    }

    /// A probe still without a first token `waitedMilliseconds` after it started: slow evidence
    /// now, not when it times out.
    public mutating func recordSlowProbe(endpointID: String, at time: Timestamp, waitedMilliseconds: Double) -> Event? {
        guard peers[endpointID] != nil else { return nil }
        return latency(endpointID, Sample(time: time, ttft: waitedMilliseconds, tokensPerSecond: nil), judgeAlone: true)
    }

    /// Share limits in force at `now`, by endpoint id (slowness before rate limits when both are).
    public func limits(at now: Timestamp) -> [String: ShareLimit] {
        var result: [String: ShareLimit] = [:]
        for (id, state) in states {
            if let until = state.slowUntil, until > now {
                result[id] = ShareLimit(reason: ReasonCode.latencyDegraded, until: until, detail: state.slowDetail)
            } else if let until = state.rateLimitedUntil, until > now {
                result[id] = ShareLimit(reason: ReasonCode.rateLimited, until: until, detail: state.rateLimitDetail)
            }
        }
        return result
    }

    /// Live requests a second of each endpoint with any, over about the last minute (the prober's
    /// exposure).
    public func liveRequestsPerSecond(at now: Timestamp) -> [String: Double] {
        var rates: [String: Double] = [:]
        for (id, state) in states {
            guard let at = state.liveCountAt else { continue }
            let rate = state.liveCount * exp(-max(0, now.seconds(since: at)) / Self.rateSeconds) / Self.rateSeconds
            if rate >= 0.001 { rates[id] = rate }
        }
        return rates
    }

    /// Endpoints whose known-answer test leans towards failure (a failed probe not yet outweighed):
    /// the prober re-probes them soon (`known_answers.reprobe_seconds`).
    public private(set) var knownAnswerSuspects: Set<String> = []

    /// The statistics behind the rules, for tests and diagnostics.
    public func diagnostics(_ endpointID: String) -> (ttftBaseline: Double?, failureRate: Double, failureCUSUM: Double, knownAnswerCUSUM: Double) {
        let state = states[endpointID] ?? State()
        return (state.ttft.count > 0 ? state.ttft.value : nil, state.failures.rate, state.failureCUSUM, state.knownAnswerCUSUM)
    }

    // MARK: Rules

    private func rateLimit(_ state: inout State, _ observation: Observation) -> Event? {
        let rule = policy.faults.rateLimits
        let given = observation.retryAfterSeconds
        let retryAfter = min(rule.maxRetryAfterSeconds, max(0, given ?? rule.defaultRetryAfterSeconds))
        let seconds = retryAfter > 0 ? max(retryAfter, rule.minSeconds) : 0
        let until = observation.time.adding(seconds: seconds)
        let wasLimited = state.rateLimitedUntil.map { $0 > observation.time } ?? false
        if state.rateLimitedUntil.map({ until > $0 }) ?? true { state.rateLimitedUntil = until }
        state.rateLimitDetail =
            "HTTP 429 (\(observation.source.rawValue)), Retry-After \(Self.format(retryAfter)) s\(given == nil ? " (policy default)" : ""), lowered \(Self.format(seconds)) s"
        guard !wasLimited, seconds > 0 else { return nil }
        return .limit(
            FastPathDetector.Trigger(
                endpointID: observation.endpointID, reason: ReasonCode.rateLimited, at: observation.time, detail: state.rateLimitDetail))
    }

    /// One CUSUM step of log-likelihood ratios between the rate `p0` and the shifted rate the rule
    /// looks for; returns the new statistic (never below 0).
    public static func cusumStep(_ statistic: Double, failed: Bool, baseline: Double, shiftRatio: Double, minShift: Double) -> Double {
        let p0 = min(max(baseline, 1e-6), 0.98)
        let p1 = min(max(p0 * shiftRatio, p0 + minShift), 0.99)
        let step = failed ? log(p1 / p0) : log((1 - p1) / (1 - p0))
        return max(0, statistic + step)
    }

    private func failureChange(_ state: inout State, _ observation: Observation) -> Event? {
        let rule = policy.faults.failureChange
        let failed = observation.outcome != .ok && (observation.outcome.isRequestFailure || observation.outcome.isToolCallFailure)
        defer { state.failures.add(failed: failed) }
        guard rule.threshold > 0, state.failures.count >= rule.minRequests else { return nil }
        let baseline = max(rule.baselineFloor, state.failures.rate)
        state.failureCUSUM = Self.cusumStep(
            state.failureCUSUM, failed: failed, baseline: baseline, shiftRatio: rule.shiftRatio, minShift: rule.minShift)
        guard state.failureCUSUM >= rule.threshold else { return nil }
        state.failureCUSUM = 0
        return .demote(
            FastPathDetector.Trigger(
                endpointID: observation.endpointID, reason: ReasonCode.failureRateChange, at: observation.time,
                detail: "failures jumped above the endpoint's own rate \(Self.format(baseline * 100))% (CUSUM)"))
    }

    private mutating func knownAnswer(_ state: inout State, _ observation: Observation, id: String) -> Event? {
        let rule = policy.faults.knownAnswers
        let failed = observation.outcome.isToolCallFailure
        // The peers' running probe failure rate, pooled by their probe counts and shrunk towards
        // the floor by 100 pseudo-probes: peers probed once a minute have few probes, and one
        // unlucky failure among them must not make the test blind to a real fault.
        var peerFailures = 100 * rule.baselineFloor
        var peerProbes = 100.0
        for peer in peers[id] ?? [] {
            guard let rate = states[peer]?.probeFailures, rate.count > 0 else { continue }
            let weight = Double(min(rate.count, 1_000))
            peerFailures += rate.rate * weight
            peerProbes += weight
        }
        state.probeFailures.add(failed: failed)
        guard rule.threshold > 0 else { return nil }
        let baseline = max(rule.baselineFloor, peerFailures / peerProbes)
        state.knownAnswerCUSUM = Self.cusumStep(
            state.knownAnswerCUSUM, failed: failed, baseline: baseline, shiftRatio: rule.shiftRatio, minShift: rule.minShift)
        if state.knownAnswerCUSUM > 0 { knownAnswerSuspects.insert(id) } else { knownAnswerSuspects.remove(id) }
        guard state.knownAnswerCUSUM >= rule.threshold else { return nil }
        state.knownAnswerCUSUM = 0
        knownAnswerSuspects.remove(id)
        return .demote(
            FastPathDetector.Trigger(
                endpointID: id, reason: ReasonCode.knownAnswerFailures, at: observation.time,
                detail: "known-answer probes fail above the peers' rate \(Self.format(baseline * 100))% (CUSUM)"))
    }

    /// Adds a sample to the endpoint's recent window and baselines and judges it.
    /// - Parameter judgeAlone: the sample is slow evidence by itself (a probe past the first-token
    ///   bound): it does not wait for `min_samples`.
    private mutating func latency(_ id: String, _ sample: Sample, judgeAlone: Bool = false) -> Event? {
        let rule = policy.faults.latency
        var state = states[id] ?? State()
        defer { states[id] = state }
        // Only the latest `min_samples` are ever judged: keeping more would cost a busy endpoint
        // thousands of samples per window.
        state.recent.append(sample)
        if state.recent.count > rule.minSamples { state.recent.removeFirst(state.recent.count - rule.minSamples) }
        state.recent.removeAll { sample.time.seconds(since: $0.time) > rule.windowSeconds }

        let ttftBaseline = state.ttft.count >= rule.baselineMinSamples ? state.ttft.value : nil
        let tpsBaseline = state.tokensPerSecond.count >= rule.baselineMinSamples ? state.tokensPerSecond.value : nil
        let slowTTFT = sample.ttft.map { value in ttftBaseline.map { value >= rule.slowdownRatio * $0 } ?? false } ?? false
        let slowTPS = sample.tokensPerSecond.map { value in tpsBaseline.map { value * rule.slowdownRatio <= $0 } ?? false } ?? false
        let slowAlone = judgeAlone && (ttftBaseline == nil || slowTTFT)
        if let ttft = sample.ttft, !judgeAlone { state.ttft.add(ttft, slow: slowTTFT) }
        if let tps = sample.tokensPerSecond { state.tokensPerSecond.add(tps, slow: slowTPS) }

        // The fastest peer that is not slow itself: there must be somewhere better to send traffic.
        var bestPeerTTFT: Double?
        var bestPeerTPS: Double?
        for peer in peers[id] ?? [] {
            guard let other = states[peer], other.slowUntil.map({ $0 <= sample.time }) ?? true else { continue }
            if other.ttft.count >= rule.baselineMinSamples, let value = other.ttft.value { bestPeerTTFT = min(bestPeerTTFT ?? value, value) }
            if other.tokensPerSecond.count >= rule.baselineMinSamples, let value = other.tokensPerSecond.value {
                bestPeerTPS = max(bestPeerTPS ?? value, value)
            }
        }
        let limited = state.slowUntil.map { $0 > sample.time } ?? false
        // While lowered, each slow sample keeps it lowered for another hold.
        if limited {
            if slowTTFT || slowTPS || slowAlone { state.slowUntil = sample.time.adding(seconds: rule.holdSeconds) }
            return nil
        }

        // The latest `min_samples` samples of the window are judged: older fast ones must not
        // hold a collapse back until they leave the window.
        var detail: String?
        let ttfts = state.recent.compactMap(\.ttft)
        if let ttft = judgeAlone ? sample.ttft : (ttfts.count >= rule.minSamples ? OutlierRules.median(ttfts) : nil),
            let peer = bestPeerTTFT, ttft >= rule.peerRatio * peer,
            judgeAlone ? slowAlone : ttftBaseline.map({ ttft >= rule.slowdownRatio * $0 }) ?? false
        {
            detail =
                judgeAlone
                ? "probe without a first token after \(Self.format(ttft)) ms; fastest peer's TTFT \(Self.format(peer)) ms"
                : "TTFT median \(Self.format(ttft)) ms of the last \(ttfts.count) samples; "
                    + "own baseline \(Self.format(ttftBaseline ?? 0)) ms, fastest peer \(Self.format(peer)) ms"
        }
        let rates = state.recent.compactMap(\.tokensPerSecond)
        if detail == nil, rates.count >= rule.minSamples, let tps = OutlierRules.median(rates), let own = tpsBaseline,
            let peer = bestPeerTPS, tps * rule.slowdownRatio <= own, tps * rule.peerRatio <= peer
        {
            detail =
                "output \(Self.format(tps)) tokens/s median of the last \(rates.count) samples; own baseline \(Self.format(own)), "
                + "fastest peer \(Self.format(peer))"
        }
        guard let detail else { return nil }
        state.slowUntil = sample.time.adding(seconds: rule.holdSeconds)
        state.slowDetail = detail
        return .limit(FastPathDetector.Trigger(endpointID: id, reason: ReasonCode.latencyDegraded, at: sample.time, detail: detail))
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(format: "%.1f", value)
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
