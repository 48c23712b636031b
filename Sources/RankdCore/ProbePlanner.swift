/// Decides when each endpoint is probed next: every interval (shorter while suspicious), with
/// jitter, never more than `max_per_minute` starts per endpoint, never before a provider's
/// Retry-After, and not once its daily budget is spent. Pure: time and randomness come in.
///
/// Probes go where the risk is: an endpoint carrying live traffic is probed in proportion to it
/// (`exposure_probe_ratio` probes per live request), up to a cap that grows with its traffic share
/// (`exposed_max_per_minute`); one whose known-answer test leans towards failure is re-probed
/// within `faults.known_answers.reprobe_seconds`, up to its own cap.
public struct ProbePlanner: Sendable {
    public let rule: Policy.Probing
    public let knownAnswers: Policy.KnownAnswers
    private var states: [String: State] = [:]
    private var generator: SplitMix64

    struct State: Sendable {
        var nextDue: Timestamp
        var recentStarts: [Timestamp] = []
        var inFlight = false
        var suspicious = false
        var spentUSD = 0.0
        var budgetDay: Int64 = 0
        var nextCase = 0
        var exposure = Exposure()
        var knownAnswerSuspect = false
    }

    /// How much live traffic an endpoint carries (from the latest epoch).
    public struct Exposure: Hashable, Sendable {
        /// Its traffic share, 0...1.
        public var share = 0.0
        /// Live requests a second it serves (its share of its model's recent request rate).
        public var requestsPerSecond = 0.0

        public init(share: Double = 0, requestsPerSecond: Double = 0) {
            self.share = share
            self.requestsPerSecond = requestsPerSecond
        }
    }

    /// Why an endpoint is not probed now (for logs and `rankd probe`).
    public enum Hold: Hashable, Sendable {
        case notDue
        case inFlight
        case rateCap
        case budgetSpent
    }

    /// - Parameter endpointIDs: the enabled endpoints; their first probes are spread over one interval.
    public init(
        rule: Policy.Probing, knownAnswers: Policy.KnownAnswers = Policy.KnownAnswers(), endpointIDs: [String], now: Timestamp,
        seed: UInt64
    ) {
        self.rule = rule
        self.knownAnswers = knownAnswers
        generator = SplitMix64(seed: seed)
        let ids = endpointIDs.sorted()
        for (index, id) in ids.enumerated() {
            // Staggered start: a fleet does not get probed all in the same second.
            let offset = ids.count > 1 ? rule.intervalSeconds * Double(index) / Double(ids.count) * 0.25 : 0
            states[id] = State(nextDue: now.adding(seconds: offset))
        }
    }

    /// Plans for `endpointIDs` from now on (a configuration reload): a new endpoint's first probe
    /// is due within a quarter interval, a removed one is no longer planned; the others keep
    /// their schedule and today's spend.
    public mutating func setEndpoints(_ endpointIDs: [String], now: Timestamp) {
        let wanted = Set(endpointIDs)
        states = states.filter { wanted.contains($0.key) }
        for id in endpointIDs.sorted() where states[id] == nil {
            states[id] = State(nextDue: now.adding(seconds: rule.intervalSeconds * 0.25 * generator.uniform()))
        }
    }

    /// Endpoints that may start a probe now, most overdue first, at most `limit`.
    public mutating func takeDue(now: Timestamp, limit: Int) -> [(endpointID: String, caseIndex: Int)] {
        guard limit > 0 else { return [] }
        var due: [(String, Timestamp)] = []
        for (id, state) in states where hold(state, now: now) == nil {
            due.append((id, state.nextDue))
        }
        due.sort { ($0.1, $0.0) < ($1.1, $1.0) }
        var taken: [(String, Int)] = []
        for (id, _) in due.prefix(limit) {
            states[id]!.inFlight = true
            states[id]!.recentStarts.append(now)
            taken.append((id, states[id]!.nextCase))
            states[id]!.nextCase += 1
        }
        return taken
    }

    /// Why `endpointID` would not start now, or nil when it would.
    public func hold(_ endpointID: String, now: Timestamp) -> Hold? {
        states[endpointID].flatMap { hold($0, now: now) }
    }

    private func hold(_ state: State, now: Timestamp) -> Hold? {
        if state.inFlight { return .inFlight }
        if now < state.nextDue { return .notDue }
        if state.recentStarts.filter({ now.seconds(since: $0) < 60 }).count >= cap(state) { return .rateCap }
        if rule.dailyBudgetUSD > 0, state.budgetDay == Self.day(now), state.spentUSD >= budget(state) { return .budgetSpent }
        return nil
    }

    /// Records a finished probe and schedules the next one.
    /// - Parameters:
    ///   - failed: the outcome was not `ok` (the endpoint becomes suspicious).
    ///   - demoted: the endpoint is demoted in the current epoch (also probed more often, to see recovery).
    ///   - retryAfterSeconds: the provider asked to wait (429 Retry-After); honoured as a floor.
    ///   - costUSD: estimated spend of this probe.
    public mutating func finished(
        _ endpointID: String, now: Timestamp, failed: Bool, demoted: Bool, retryAfterSeconds: Double?, costUSD: Double
    ) {
        guard var state = states[endpointID] else { return }
        state.inFlight = false
        state.suspicious = failed || demoted
        let day = Self.day(now)
        if state.budgetDay != day {
            state.budgetDay = day
            state.spentUSD = 0
        }
        state.spentUSD += costUSD
        state.recentStarts.removeAll { now.seconds(since: $0) >= 60 }
        let spread = rule.jitter > 0 ? (generator.uniform() * 2 - 1) * rule.jitter : 0
        var wait = interval(state) * (1 + spread)
        if state.knownAnswerSuspect { wait = min(wait, knownAnswers.reprobeSeconds) }
        if let retryAfterSeconds { wait = max(wait, retryAfterSeconds) }
        state.nextDue = now.adding(seconds: wait)
        states[endpointID] = state
    }

    /// The endpoint's daily budget: `daily_budget_usd`, plus `exposed_daily_budget_usd` × its share.
    func budget(_ state: State) -> Double {
        rule.dailyBudgetUSD + rule.exposedDailyBudgetUSD * state.exposure.share
    }

    /// Probe starts a minute the endpoint may have: `max_per_minute`, more with exposure, more
    /// while its known-answer test leans towards failure.
    func cap(_ state: State) -> Int {
        var cap = max(rule.maxPerMinute, Int((Double(rule.exposedMaxPerMinute) * state.exposure.share).rounded(.down)))
        if state.knownAnswerSuspect { cap = max(cap, knownAnswers.suspectMaxPerMinute) }
        return cap
    }

    /// Seconds between probes before jitter: the healthy or suspicious interval, shorter with
    /// exposure (`exposure_probe_ratio` probes per live request, never above the cap).
    func interval(_ state: State) -> Double {
        var base = state.suspicious ? rule.suspiciousIntervalSeconds : rule.intervalSeconds
        let rate = rule.exposureProbeRatio * state.exposure.requestsPerSecond
        if rate > 0 { base = min(base, max(1 / rate, 60 / Double(cap(state)))) }
        return base
    }

    /// Sets an endpoint's exposure (from the latest epoch); a higher one brings its next probe forward.
    public mutating func setExposure(_ endpointID: String, _ exposure: Exposure, now: Timestamp) {
        guard var state = states[endpointID], state.exposure != exposure else { return }
        state.exposure = exposure
        if !state.inFlight {
            let sooner = now.adding(seconds: interval(state))
            if sooner < state.nextDue { state.nextDue = sooner }
        }
        states[endpointID] = state
    }

    /// Sets whether an endpoint's known-answer test leans towards failure; a suspect is probed
    /// again within `reprobe_seconds` (a failed known-answer probe is re-probed at once).
    public mutating func setKnownAnswerSuspect(_ endpointID: String, _ suspect: Bool, now: Timestamp) {
        guard var state = states[endpointID], state.knownAnswerSuspect != suspect else { return }
        state.knownAnswerSuspect = suspect
        if suspect, !state.inFlight {
            let sooner = now.adding(seconds: knownAnswers.reprobeSeconds)
            if sooner < state.nextDue { state.nextDue = sooner }
        }
        states[endpointID] = state
    }

    /// Marks an endpoint demoted in the latest epoch, so its next probe comes sooner.
    public mutating func markDemoted(_ endpointID: String, now: Timestamp) {
        guard var state = states[endpointID], !state.suspicious else { return }
        state.suspicious = true
        let sooner = now.adding(seconds: rule.suspiciousIntervalSeconds)
        if sooner < state.nextDue { state.nextDue = sooner }
        states[endpointID] = state
    }

    public func nextDue(_ endpointID: String) -> Timestamp? { states[endpointID]?.nextDue }

    public func spentToday(_ endpointID: String) -> Double { states[endpointID]?.spentUSD ?? 0 }

    /// How many endpoints have spent their daily budget on `now`'s (UTC) day and wait for the next.
    public func budgetExhaustedCount(now: Timestamp) -> Int {
        guard rule.dailyBudgetUSD > 0 else { return 0 }
        let day = Self.day(now)
        return states.values.count { $0.budgetDay == day && $0.spentUSD >= budget($0) }
    }

    static func day(_ time: Timestamp) -> Int64 { Int64((time.secondsSince1970 / 86_400).rounded(.down)) }

    /// Estimated cost of one request: prompt and completion tokens at the endpoint's prices.
    public static func cost(promptTokens: Int, completionTokens: Int, pricing: Pricing) -> Double {
        Double(promptTokens) * pricing.promptPerMillionTokensUSD / 1_000_000
            + Double(completionTokens) * pricing.completionPerMillionTokensUSD / 1_000_000 + pricing.perRequestUSD
    }
}
