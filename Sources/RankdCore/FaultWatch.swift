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
    /// Enabled endpoints' ids, their positions, their peers' positions (the other enabled
    /// endpoints of their model) and their state, by position: one dictionary lookup per
    /// observation, and each state changed in place (a copy out of a dictionary and back copied
    /// its sample array at every observation).
    let ids: [String]
    private let positions: [String: Int]
    private let enabled: [Bool]
    /// Each endpoint's model group, and each group's members: one array per model, not one per
    /// endpoint (an array each is megabytes at scale).
    private let groupOf: [Int32]
    private let groups: [[Int]]
    var states: [State]

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
        /// The failure CUSUM's steps for the baseline they were computed at (recomputed when the
        /// baseline moves by more than 1% of itself: two `log`s per observation otherwise).
        var failureSteps = (baseline: -1.0, fail: 0.0, pass: 0.0)
        var probeFailures = RunningRate()
        var knownAnswerCUSUM = 0.0
        /// Live requests, decayed with a one-minute time constant per whole second
        /// (`liveRequestsPerSecond`).
        var liveCount = 0.0
        var liveSecond: Int64 = .min
        var liveCountAt: Timestamp?
    }

    /// One second's decay of the live count.
    static let secondDecay = exp(-1 / rateSeconds)

    /// Time constant of the live request rate, in seconds.
    static let rateSeconds = 60.0

    struct Sample: Sendable {
        var time: Timestamp
        var ttft: Double?
        var tokensPerSecond: Double?
    }

    /// A running mean of log values: a geometric-mean baseline that a few outliers barely move.
    /// Compared in log space, so a sample costs one `log` and no `exp`.
    struct LogBaseline: Sendable {
        var mean = 0.0
        var count = 0

        /// The baseline itself (rare paths: peers, details).
        var value: Double { exp(mean) }

        /// Samples judged slow move it 16 times less, so a fault does not become the baseline
        /// within the minutes it lasts, and a lasting change still does.
        mutating func add(log sample: Double, slow: Bool) {
            count += 1
            let weight = max(1 / Double(count), 1 / 64) / (slow ? 16 : 1)
            mean += weight * (sample - mean)
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

    /// What one observation set off: at most a demotion and a limit (no allocation per observation).
    public struct Events: Sendable {
        public var demote: FastPathDetector.Trigger?
        public var limit: FastPathDetector.Trigger?

        public var all: [Event] { [demote.map(Event.demote), limit.map(Event.limit)].compactMap { $0 } }
    }

    /// - Parameter endpoints: the registry, in the order `record(_:position:)` counts positions
    ///   in; disabled endpoints are watched by no rule and are nobody's peers.
    public init(policy: Policy, endpoints: [Endpoint]) {
        self.policy = policy
        ids = endpoints.map(\.id)
        positions = Dictionary(endpoints.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        enabled = endpoints.map(\.enabled)
        var byModel: [String: Int] = [:]
        var groups: [[Int]] = []
        var groupOf = [Int32](repeating: -1, count: endpoints.count)
        for (index, endpoint) in endpoints.enumerated() where endpoint.enabled {
            let group = byModel[endpoint.model] ?? groups.count
            if group == groups.count {
                byModel[endpoint.model] = group
                groups.append([])
            }
            groups[group].append(index)
            groupOf[index] = Int32(group)
        }
        self.groups = groups
        self.groupOf = groupOf
        states = Array(repeating: State(), count: endpoints.count)
    }

    /// Counts one observation; returns what it set off.
    public mutating func record(_ observation: Observation) -> Events {
        guard let index = positions[observation.endpointID] else { return Events() }
        return record(observation, position: index)
    }

    /// Counts one observation of the endpoint at `position` in the registry given at init.
    public mutating func record(_ observation: Observation, position index: Int) -> Events {
        guard index >= 0, index < states.count, enabled[index] else { return Events() }
        var events = Events()
        let outcome = observation.outcome
        if observation.source == .live { Self.countLive(&states[index], at: observation.time) }
        if outcome == .http429 {
            events.limit = Self.rateLimit(&states[index], observation, rule: policy.faults.rateLimits)
        } else if !policy.reliability.ignoredOutcomes.contains(outcome) || outcome.isToolCallFailure {
            events.demote = Self.failureChange(&states[index], observation, rule: policy.faults.failureChange)
        }
        if observation.source == .probe, outcome == .ok || outcome.isToolCallFailure {
            if let trigger = knownAnswer(index, observation) { events.demote = trigger }
        }
        if observation.ttftMilliseconds != nil || observation.outputTokensPerSecond != nil, events.limit == nil {
            events.limit = latency(
                index,
                Sample(time: observation.time, ttft: observation.ttftMilliseconds, tokensPerSecond: observation.outputTokensPerSecond))
        }
        return events
    }

    /// A probe still without a first token `waitedMilliseconds` after it started: slow evidence
    /// now, not when it times out.
    public mutating func recordSlowProbe(endpointID: String, at time: Timestamp, waitedMilliseconds: Double) -> Event? {
        guard let index = positions[endpointID], enabled[index] else { return nil }
        return latency(index, Sample(time: time, ttft: waitedMilliseconds, tokensPerSecond: nil), judgeAlone: true).map(Event.limit)
    }

    /// Share limits in force at `now`, by endpoint id (slowness before rate limits when both are).
    public func limits(at now: Timestamp) -> [String: ShareLimit] {
        var result: [String: ShareLimit] = [:]
        for (index, state) in states.enumerated() {
            if let until = state.slowUntil, until > now {
                result[ids[index]] = ShareLimit(reason: ReasonCode.latencyDegraded, until: until, detail: state.slowDetail)
            } else if let until = state.rateLimitedUntil, until > now {
                result[ids[index]] = ShareLimit(reason: ReasonCode.rateLimited, until: until, detail: state.rateLimitDetail)
            }
        }
        return result
    }

    /// Live requests a second of each endpoint with any, over about the last minute (the prober's
    /// exposure).
    public func liveRequestsPerSecond(at now: Timestamp) -> [String: Double] {
        var rates: [String: Double] = [:]
        for (index, state) in states.enumerated() {
            guard let at = state.liveCountAt else { continue }
            let rate = state.liveCount * exp(-max(0, now.seconds(since: at)) / Self.rateSeconds) / Self.rateSeconds
            if rate >= 0.001 { rates[ids[index]] = rate }
        }
        return rates
    }

    /// Endpoints whose known-answer test leans towards failure (a failed probe not yet outweighed):
    /// the prober re-probes them soon (`known_answers.reprobe_seconds`).
    public private(set) var knownAnswerSuspects: Set<String> = []

    /// The other enabled endpoints of the endpoint's model.
    func peers(of index: Int) -> [Int] {
        groupOf[index] < 0 ? [] : groups[Int(groupOf[index])].filter { $0 != index }
    }

    // MARK: Rules

    private static func countLive(_ state: inout State, at time: Timestamp) {
        let second = time.second
        if state.liveSecond == .min {
            state.liveSecond = second
        } else if second > state.liveSecond {
            let elapsed = second - state.liveSecond
            state.liveCount *= elapsed == 1 ? secondDecay : exp(-Double(elapsed) / rateSeconds)
            state.liveSecond = second
        }
        state.liveCount += 1
        state.liveCountAt = Timestamp(secondsSince1970: Double(state.liveSecond))
    }

    private static func rateLimit(_ state: inout State, _ observation: Observation, rule: Policy.RateLimits) -> FastPathDetector.Trigger? {
        let given = observation.retryAfterSeconds
        let retryAfter = min(rule.maxRetryAfterSeconds, max(0, given ?? rule.defaultRetryAfterSeconds))
        let seconds = retryAfter > 0 ? max(retryAfter, rule.minSeconds) : 0
        let until = observation.time.adding(seconds: seconds)
        let wasLimited = state.rateLimitedUntil.map { $0 > observation.time } ?? false
        if state.rateLimitedUntil.map({ until > $0 }) ?? true { state.rateLimitedUntil = until }
        state.rateLimitDetail =
            "HTTP 429 (\(observation.source.rawValue)), Retry-After \(format(retryAfter)) s\(given == nil ? " (policy default)" : ""), lowered \(format(seconds)) s"
        guard !wasLimited, seconds > 0 else { return nil }
        return FastPathDetector.Trigger(
            endpointID: observation.endpointID, reason: ReasonCode.rateLimited, at: observation.time, detail: state.rateLimitDetail)
    }

    /// One CUSUM step of log-likelihood ratios between the rate `p0` and the shifted rate the rule
    /// looks for; returns the new statistic (never below 0).
    public static func cusumStep(_ statistic: Double, failed: Bool, baseline: Double, shiftRatio: Double, minShift: Double) -> Double {
        let (fail, pass) = cusumSteps(baseline: baseline, shiftRatio: shiftRatio, minShift: minShift)
        return max(0, statistic + (failed ? fail : pass))
    }

    /// The log-likelihood ratios a failure and a success add.
    static func cusumSteps(baseline: Double, shiftRatio: Double, minShift: Double) -> (fail: Double, pass: Double) {
        let p0 = min(max(baseline, 1e-6), 0.98)
        let p1 = min(max(p0 * shiftRatio, p0 + minShift), 0.99)
        return (log(p1 / p0), log((1 - p1) / (1 - p0)))
    }

    private static func failureChange(_ state: inout State, _ observation: Observation, rule: Policy.FailureChange) -> FastPathDetector
        .Trigger?
    {
        let failed = observation.outcome != .ok && (observation.outcome.isRequestFailure || observation.outcome.isToolCallFailure)
        defer { state.failures.add(failed: failed) }
        guard rule.threshold > 0, state.failures.count >= rule.minRequests else { return nil }
        let baseline = max(rule.baselineFloor, state.failures.rate)
        if abs(baseline - state.failureSteps.baseline) > 0.01 * baseline {
            let (fail, pass) = cusumSteps(baseline: baseline, shiftRatio: rule.shiftRatio, minShift: rule.minShift)
            state.failureSteps = (baseline, fail, pass)
        }
        state.failureCUSUM = max(0, state.failureCUSUM + (failed ? state.failureSteps.fail : state.failureSteps.pass))
        guard state.failureCUSUM >= rule.threshold else { return nil }
        state.failureCUSUM = 0
        return FastPathDetector.Trigger(
            endpointID: observation.endpointID, reason: ReasonCode.failureRateChange, at: observation.time,
            detail: "failures jumped above the endpoint's own rate \(format(baseline * 100))% (CUSUM)")
    }

    private mutating func knownAnswer(_ index: Int, _ observation: Observation) -> FastPathDetector.Trigger? {
        let rule = policy.faults.knownAnswers
        let failed = observation.outcome.isToolCallFailure
        // The peers' running probe failure rate, pooled by their probe counts and shrunk towards
        // the floor by 100 pseudo-probes: peers probed once a minute have few probes, and one
        // unlucky failure among them must not make the test blind to a real fault.
        var peerFailures = 100 * rule.baselineFloor
        var peerProbes = 100.0
        for peer in peers(of: index) {
            let rate = states[peer].probeFailures
            guard rate.count > 0 else { continue }
            let weight = Double(min(rate.count, 1_000))
            peerFailures += rate.rate * weight
            peerProbes += weight
        }
        states[index].probeFailures.add(failed: failed)
        guard rule.threshold > 0 else { return nil }
        let baseline = max(rule.baselineFloor, peerFailures / peerProbes)
        let statistic = Self.cusumStep(
            states[index].knownAnswerCUSUM, failed: failed, baseline: baseline, shiftRatio: rule.shiftRatio, minShift: rule.minShift)
        let id = ids[index]
        let fired = statistic >= rule.threshold
        states[index].knownAnswerCUSUM = fired ? 0 : statistic
        if states[index].knownAnswerCUSUM > 0 { knownAnswerSuspects.insert(id) } else { knownAnswerSuspects.remove(id) }
        guard fired else { return nil }
        return FastPathDetector.Trigger(
            endpointID: id, reason: ReasonCode.knownAnswerFailures, at: observation.time,
            detail: "known-answer probes fail above the peers' rate \(Self.format(baseline * 100))% (CUSUM)")
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(format: "%.1f", value)
    }
}
