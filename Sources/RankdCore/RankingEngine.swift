/// The ranking state machine: window aggregates, fast-path counters and demotion memory, fed
/// observations and asked for epochs. Pure: time comes in as arguments, nothing is read or written
/// outside it. The daemon wraps one in a lock and persists what it drains.
public struct RankingEngine: Sendable {
    public private(set) var policy: Policy
    public private(set) var endpoints: [Endpoint]
    public private(set) var benchmarks: [String: Double]
    public private(set) var demotions: [String: DemotionState]
    /// Id of the latest epoch computed or restored.
    public private(set) var lastEpochID: Int64
    private var aggregator: WindowAggregator
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
    /// Registries of this many endpoints or more are scored on all cores (`Scorer`).
    public var parallelFromEndpoints = Scorer.parallelFromEndpoints

    public init(
        policy: Policy, endpoints: [Endpoint], benchmarks: [String: Double] = [:], now: Timestamp,
        lastEpochID: Int64 = 0, demotions: [String: DemotionState] = [:], pastInStore: Bool = false
    ) {
        self.policy = policy
        // An array already in id order is kept as it is (shared, not copied: 4 MB at 20,000 endpoints).
        let inOrder = zip(endpoints, endpoints.dropFirst()).allSatisfy { $0.id < $1.id }
        self.endpoints = inOrder ? endpoints : endpoints.sorted { $0.id < $1.id }
        self.benchmarks = benchmarks
        self.demotions = demotions
        self.lastEpochID = lastEpochID
        aggregator = WindowAggregator(
            shortWindowSeconds: policy.windows.shortSeconds, longWindowSeconds: policy.windows.longSeconds, now: now,
            pastInStore: pastInStore)
        detector = FastPathDetector(rule: policy.fastPath)
        faultWatch = FaultWatch(policy: policy, endpoints: self.endpoints)
        positions = Dictionary(self.endpoints.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        var groups: [String: [Int]] = [:]
        for (index, endpoint) in self.endpoints.enumerated() where endpoint.enabled { groups[endpoint.model, default: []].append(index) }
        enabledPeerGroups = groups.keys.sorted().map { groups[$0]! }
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

    /// - Parameter persisted: the observation's minute bucket is already in the store (live
    ///   telemetry commits it before acknowledging), so it is not queued for writing again.
    public mutating func record(_ observation: Observation, persisted: Bool = false) -> RecordResult {
        guard let position = positions[observation.endpointID] else { return .unknownEndpoint }
        guard aggregator.record(observation, persist: !persisted) else { return .tooOld }
        return watch(observation, position: position)
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

    /// Records a batch: tallies are folded per minute first and merged once per bucket (the
    /// windows cost per bucket, not per observation); the fast path still sees every observation
    /// in order. Results are per observation, as `record(_:persisted:)` gives them.
    public mutating func record(batch observations: [Observation], persisted: Bool) -> [RecordResult] {
        var results = [RecordResult](repeating: .accepted, count: observations.count)
        var known: [Observation] = []
        known.reserveCapacity(observations.count)
        var found = [Int](repeating: -1, count: observations.count)
        for (index, observation) in observations.enumerated() {
            if let position = positions[observation.endpointID] {
                known.append(observation)
                found[index] = position
            } else {
                results[index] = .unknownEndpoint
            }
        }
        var tooOldMinutes: Set<Int64> = []
        for bucket in MinuteBucket.fold(known, sorted: false) where !aggregator.record(bucket, persist: !persisted) {
            tooOldMinutes.insert(bucket.minute)
        }
        for (index, observation) in observations.enumerated() where results[index] == .accepted {
            if tooOldMinutes.contains(observation.time.minute) {
                results[index] = .tooOld
                continue
            }
            results[index] = watch(observation, position: found[index])
        }
        return results
    }

    /// Endpoints not demoted now whose failure-outlier rules (tool-call or error rate) fire on
    /// the in-memory short window: an epoch should be computed now rather than at the next interval.
    public mutating func outliersBetweenEpochs(now: Timestamp) -> [String: [String]] {
        // Minutes recorded since the last epoch enter the windows only when time advances.
        aggregator.advance(to: now)
        var result: [String: [String]] = [:]
        // One model at a time: a dictionary of every endpoint's window totals was the largest
        // transient allocation of a daemon under ingest (19 MB at 20,000 endpoints, every 5 s by default).
        for group in enabledPeerGroups {
            let peers = group.map { endpoints[$0] }
            let stats = Dictionary(uniqueKeysWithValues: peers.map { ($0.id, aggregator.stats(for: $0.id)) })
            let firing = OutlierDetection.firingReasons(for: peers, stats: stats, policy: policy, fastPath: [:])
            for (id, reasons) in firing where demotions[id]?.isDemoted != true {
                let failureReasons = reasons.filter { $0 == ReasonCode.toolCallFailureOutlier || $0 == ReasonCode.errorRateOutlier }
                if !failureReasons.isEmpty { result[id] = failureReasons }
            }
        }
        return result
    }

    /// Restores stored minute buckets (at start-up).
    public mutating func load(_ buckets: [MinuteBucket]) {
        for bucket in buckets { load(bucket) }
        finishLoading()
    }

    /// Restores one stored bucket (start-up reads them one at a time); call `finishLoading()`
    /// after the last.
    public mutating func load(_ bucket: MinuteBucket) {
        if positions[bucket.endpointID] != nil { aggregator.load(bucket) }
    }

    /// Packs what the loads left unpacked (`WindowAggregator.packPast`).
    public mutating func finishLoading() { aggregator.packPast() }

    /// Computes the next epoch at `now` and carries its demotion memory forward.
    public mutating func computeEpoch(now: Timestamp, trigger: EpochTrigger) -> Epoch {
        aggregator.advance(to: now)
        // The scorer reads each model's totals as it scores it, from this (shared, not copied) value.
        let aggregator = aggregator
        let input = ScoringInput(
            epochID: lastEpochID + 1, now: now, trigger: trigger, policy: policy, endpoints: endpoints,
            windowStats: { aggregator.stats(for: $0) },
            benchmarks: benchmarks, demotions: demotions, fastPathReasons: pendingFastPathReasons,
            overrides: Override.active(overrides, at: now), shareLimits: faultWatch.limits(at: now))
        limitedInLastEpoch = Set(input.shareLimits.keys)
        overrides.removeAll { !$0.isActive(at: now) }
        let result = Scorer.score(input, parallelFromEndpoints: parallelFromEndpoints)
        demotions = result.demotions
        pendingFastPathReasons.removeAll()
        lastEpochID = result.epoch.id
        return result.epoch
    }

    /// Advances windows whose past tallies are in the store, reading what leaves them
    /// (`WindowAggregator.advance(to:reading:)`); if `reading` throws, nothing changes.
    public mutating func advanceWindows(
        to now: Timestamp, reading: (WindowAggregator.Departures, _ subtract: (MinuteBucket, WindowAggregator.Departure) -> Void) throws -> Void
    ) rethrows {
        try aggregator.advance(to: now, reading: reading)
    }

    /// The minute the windows end in.
    public var windowsCurrentMinute: Int64 { aggregator.currentMinute }

    /// Window totals of one endpoint as of the last `computeEpoch`.
    public func stats(for endpointID: String) -> WindowStats { aggregator.stats(for: endpointID) }

    /// Minute tallies recorded since the last call, for the store.
    public mutating func drainPendingBuckets() -> [MinuteBucket] { aggregator.drainPendingBuckets() }

    /// Minute tallies held in memory (the short window's).
    public var storedMinuteCount: Int { aggregator.storedMinuteCount }

    /// Span tallies held in memory (the rest of the long window, an hour each by default).
    public var storedSpanCount: Int { aggregator.storedSpanCount }

    /// Bytes of the windows' packed running totals.
    public var windowTotalBytes: Int { aggregator.packedTotalBytes }

    /// The window lengths in whole minutes, as the aggregator counts them, and the long window's span.
    public var windowMinutes: (short: Int64, long: Int64, spanMinutes: Int64) {
        (aggregator.shortWindowMinutes, aggregator.longWindowMinutes, aggregator.coarseMinutes)
    }

    /// Replaces the operator overrides the next epochs apply (ended ones are ignored).
    public mutating func setOverrides(_ overrides: [Override]) { self.overrides = overrides }

    /// The earliest expiry among overrides in force: an epoch is due then.
    public var nextOverrideExpiry: Timestamp? { overrides.filter { $0.revokedAt == nil }.map(\.expiresAt).min() }

    /// Replaces benchmark scores (admin API, reload).
    public mutating func setBenchmarks(_ benchmarks: [String: Double]) { self.benchmarks = benchmarks }
}
