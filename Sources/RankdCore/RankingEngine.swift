/// The ranking state machine: fast-path counters, fault rules, overrides and demotion memory, fed
/// observations (once the windows have counted them) and asked for epochs over the windows'
/// totals. Pure: time and the windows come in as arguments, nothing is read or written outside
/// it. The daemon's `Ranker` actor holds one; the windows are the `WindowLedger`'s.
public struct RankingEngine: Sendable {
    public private(set) var policy: Policy
    public private(set) var endpoints: [Endpoint]
    /// Fixed benchmark figures per endpoint (tests, benches), used when no dated scores are set.
    public private(set) var benchmarks: [String: Double]
    /// Dated benchmark scores (files, the admin API): each epoch weighs them by age.
    public private(set) var benchmarkScores: [BenchmarkScore]?
    public private(set) var demotions: [String: DemotionState]
    /// Id of the latest epoch computed or restored.
    public private(set) var lastEpochID: Int64
    private var detector: FastPathDetector
    private var faultWatch: FaultWatch
    /// Endpoints whose share was limited in the last epoch computed: when a limit ends, an epoch is due.
    private var limitedInLastEpoch: Set<String> = []
    private var pendingFastPathReasons: [String: [String]] = [:]
    /// Each endpoint's position in `endpoints`: one lookup per observation, shared with the fault rules.
    private var positions: [String: Int]
    /// Indices in `endpoints` of the enabled endpoints, one list per model (the peers the outlier
    /// rules compare), so the check between epochs does not regroup the registry each time.
    private let enabledPeerGroups: [[Int]]
    /// Operator overrides not yet ended (ended ones are dropped at each epoch).
    public private(set) var overrides: [Override] = []
    /// How epochs are scored over threads (`Scorer`): one thread unless the daemon says otherwise.
    public var parallelism = ScoringParallelism.serial

    public init(
        policy: Policy, endpoints: [Endpoint], benchmarks: [String: Double] = [:], now: Timestamp,
        lastEpochID: Int64 = 0, demotions: [String: DemotionState] = [:]
    ) {
        self.policy = policy
        // An array already in id order is kept as it is (shared with the caller, not copied).
        let inOrder = zip(endpoints, endpoints.dropFirst()).allSatisfy { $0.id < $1.id }
        self.endpoints = inOrder ? endpoints : endpoints.sorted { $0.id < $1.id }
        self.benchmarks = benchmarks
        self.demotions = demotions
        self.lastEpochID = lastEpochID
        detector = FastPathDetector(rule: policy.fastPath)
        faultWatch = FaultWatch(policy: policy, endpoints: self.endpoints)
        positions = Self.positions(inOrder: self.endpoints)
        var groups: [String: [Int]] = [:]
        for (index, endpoint) in self.endpoints.enumerated() where endpoint.enabled { groups[endpoint.model, default: []].append(index) }
        enabledPeerGroups = groups.keys.sorted().map { groups[$0]! }
    }

    /// Continues from another replica's last epoch (a follower becoming the leader): the next
    /// epoch follows `lastEpochID`, with the demotion memory that epoch left. What the fast path
    /// and fault rules gathered from the shared log stays.
    public mutating func continueAfter(lastEpochID: Int64, demotions: [String: DemotionState]) {
        self.lastEpochID = max(self.lastEpochID, lastEpochID)
        self.demotions = demotions
    }

    /// What happened to one recorded observation.
    public enum RecordResult: Hashable, Sendable {
        case accepted
        /// Tripped the fast path: the caller should compute and publish an epoch now.
        case fastPath(FastPathDetector.Trigger)
        /// Lowered the endpoint's share (slowness, rate limit): an epoch should publish it now.
        case shareLimited(FastPathDetector.Trigger)
        /// Older than the long window.
        case tooOld
        case unknownEndpoint
    }

    /// Each endpoint's position in the engine's registry (`endpoints`, in id order): what the
    /// windows' owner hands back with each batch, so an observation's endpoint is looked up once.
    public static func positions(of endpoints: [Endpoint]) -> [String: Int] {
        let inOrder = zip(endpoints, endpoints.dropFirst()).allSatisfy { $0.id < $1.id }
        return positions(inOrder: inOrder ? endpoints : endpoints.sorted { $0.id < $1.id })
    }

    private static func positions(inOrder endpoints: [Endpoint]) -> [String: Int] {
        Dictionary(endpoints.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The windows for this engine's policy, starting at `now` (their owner keeps them).
    public static func windows(for policy: Policy, now: Timestamp) -> WindowAggregator {
        WindowAggregator(
            shortWindowSeconds: policy.windows.shortSeconds, longWindowSeconds: policy.windows.longSeconds,
            recentWindowSeconds: EndpointFigures.windowSeconds(policy), now: now)
    }

    /// The fast path and the fault rules on one accepted observation. The demotion memory is
    /// read only when a rule fires: an endpoint already demoted gains nothing from a new epoch.
    private mutating func watch(_ observation: Observation, position: Int) -> RecordResult {
        var result = RecordResult.accepted
        let trigger = detector.record(observation)
        let events = faultWatch.record(observation, position: position)
        guard trigger != nil || events.demote != nil || events.limit != nil,
            demotions[observation.endpointID]?.isDemoted != true
        else { return result }
        for fired in [trigger, events.demote].compactMap({ $0 }) {
            if !(pendingFastPathReasons[fired.endpointID]?.contains(fired.reason) ?? false) {
                pendingFastPathReasons[fired.endpointID, default: []].append(fired.reason)
            }
            if case .accepted = result { result = .fastPath(fired) }
        }
        if let limit = events.limit, case .accepted = result { result = .shareLimited(limit) }
        return result
    }

    /// A probe without a first token past `faults.latency.first_token_bound_seconds`: slow
    /// evidence now. Returns a trigger when it lowers the endpoint's share.
    public mutating func recordSlowProbe(endpointID: String, at time: Timestamp, waitedMilliseconds: Double) -> FastPathDetector.Trigger? {
        guard case .limit(let trigger)? = faultWatch.recordSlowProbe(endpointID: endpointID, at: time, waitedMilliseconds: waitedMilliseconds),
            demotions[endpointID]?.isDemoted != true
        else { return nil }
        return trigger
    }

    /// Share limits in force at `now` (slowness, rate limits), by endpoint id.
    public func shareLimits(at now: Timestamp) -> [String: ShareLimit] { faultWatch.limits(at: now) }

    /// True when a share limit published in the last epoch has ended: an epoch should restore the share.
    public func shareLimitEnded(at now: Timestamp) -> Bool {
        guard !limitedInLastEpoch.isEmpty else { return false }
        let limits = faultWatch.limits(at: now)
        return limitedInLastEpoch.contains { limits[$0] == nil }
    }

    /// Live requests a second of each endpoint over about the last minute (the prober's exposure).
    public func liveRequestsPerSecond(at now: Timestamp) -> [String: Double] { faultWatch.liveRequestsPerSecond(at: now) }

    /// Endpoints the prober should re-probe soon: their known-answer test leans towards failure.
    public var knownAnswerSuspects: Set<String> { faultWatch.knownAnswerSuspects }

    /// Feeds a batch the windows have admitted (`WindowAggregator.record(batch:known:persist:)`)
    /// to the fast path and the fault rules, in order. Results are per observation.
    /// `positions`: each observation's position in the registry (`positions(of:)`, -1 for none),
    /// if the caller looked them up already; checked, and looked up again where one is wrong.
    public mutating func record(
        _ observations: [Observation], admissions: [WindowAggregator.Admission], positions given: [Int]? = nil
    ) -> [RecordResult] {
        precondition(observations.count == admissions.count, "one admission per observation")
        var results = [RecordResult](repeating: .accepted, count: observations.count)
        for (index, observation) in observations.enumerated() {
            switch admissions[index] {
            case .tooOld: results[index] = .tooOld
            case .unknownEndpoint: results[index] = .unknownEndpoint
            case .counted:
                let position: Int
                if let given, given[index] >= 0, given[index] < endpoints.count, endpoints[given[index]].id == observation.endpointID {
                    position = given[index]
                } else if let found = positions[observation.endpointID] {
                    position = found
                } else {
                    results[index] = .unknownEndpoint
                    continue
                }
                results[index] = watch(observation, position: position)
            }
        }
        return results
    }

    /// Whether `endpointID` is in the registry (the windows count only these).
    public func isKnown(_ endpointID: String) -> Bool { positions[endpointID] != nil }

    /// Endpoints not demoted now whose failure-outlier rules (tool-call or error rate) fire on
    /// the short window: an epoch should be computed now rather than at the next interval.
    /// `windows`: the totals with the windows advanced to `now`.
    public func outliersBetweenEpochs(now: Timestamp, windows: WindowTotals) -> [String: [String]] {
        var result: [String: [String]] = [:]
        // One model at a time: a dictionary of every endpoint's window totals would be the
        // largest transient allocation of a daemon under ingest, at every check.
        for group in enabledPeerGroups {
            let peers = group.map { endpoints[$0] }
            let stats = Dictionary(uniqueKeysWithValues: peers.map { ($0.id, windows.stats(for: $0.id)) })
            let firing = OutlierDetection.firingReasons(for: peers, stats: stats, policy: policy, fastPath: [:])
            for (id, reasons) in firing where demotions[id]?.isDemoted != true {
                let failureReasons = reasons.filter { $0 == ReasonCode.toolCallFailureOutlier || $0 == ReasonCode.errorRateOutlier }
                if !failureReasons.isEmpty { result[id] = failureReasons }
            }
        }
        return result
    }

    /// Computes the next epoch at `now` over `windows` (advanced to `now` by their owner) and
    /// carries its demotion memory forward.
    public mutating func computeEpoch(now: Timestamp, trigger: EpochTrigger, windows: WindowTotals) -> Epoch {
        // The scorer reads each model's totals as it scores it, from this (shared, not copied) value.
        var input = ScoringInput(
            epochID: lastEpochID + 1, now: now, trigger: trigger, policy: policy, endpoints: endpoints,
            windowStats: { windows.stats(for: $0) },
            benchmarks: benchmarks, demotions: demotions, fastPathReasons: pendingFastPathReasons,
            overrides: Override.active(overrides, at: now), shareLimits: faultWatch.limits(at: now))
        if let benchmarkScores {
            let figures = BenchmarkScore.figures(benchmarkScores, at: now, maxAgeDays: policy.benchmarks.maxAgeDays)
            input.benchmarks = figures.mapValues(\.value)
            input.benchmarkFreshness = figures.mapValues(\.freshness)
        }
        limitedInLastEpoch = Set(input.shareLimits.keys)
        overrides.removeAll { !$0.isActive(at: now) }
        let result = Scorer.score(input, parallelism: parallelism)
        demotions = result.demotions
        pendingFastPathReasons.removeAll()
        lastEpochID = result.epoch.id
        return result.epoch
    }

    /// Replaces the operator overrides the next epochs apply (ended ones are ignored).
    public mutating func setOverrides(_ overrides: [Override]) { self.overrides = overrides }

    /// The earliest expiry among overrides in force: an epoch is due then.
    public var nextOverrideExpiry: Timestamp? { overrides.filter { $0.revokedAt == nil }.map(\.expiresAt).min() }

    /// Replaces the benchmark figures with fixed ones (no aging).
    public mutating func setBenchmarks(_ benchmarks: [String: Double]) {
        self.benchmarks = benchmarks
        benchmarkScores = nil
    }

    /// Replaces the dated benchmark scores (start-up, `PUT /v1/admin/benchmarks`): from the next
    /// epoch on, each endpoint's figure is its scores weighed by age.
    public mutating func setBenchmarkScores(_ scores: [BenchmarkScore]) { benchmarkScores = scores }
}
