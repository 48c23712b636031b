import RankdCore

/// A `RankingEngine` with its windows over an in-memory past, kept the way the daemon's
/// `WindowLedger` keeps them: every tally counted is written to the past before the windows
/// advance, and what leaves the windows is read back from it. So the core's tests and the epoch
/// benchmark run the production window algorithm without a database. Properties of the engine
/// read through (`ranking.demotions`).
@dynamicMemberLookup
public struct MemoryRanking: Sendable {
    public var engine: RankingEngine
    public private(set) var windows: WindowAggregator
    public private(set) var past = MemoryWindowPast()

    public init(
        policy: Policy, endpoints: [Endpoint], benchmarks: [String: Double] = [:], now: Timestamp, lastEpochID: Int64 = 0,
        demotions: [String: DemotionState] = [:]
    ) {
        engine = RankingEngine(
            policy: policy, endpoints: endpoints, benchmarks: benchmarks, now: now, lastEpochID: lastEpochID, demotions: demotions)
        windows = RankingEngine.windows(for: policy, now: now)
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<RankingEngine, T>) -> T { engine[keyPath: keyPath] }

    public subscript<T>(dynamicMember keyPath: WritableKeyPath<RankingEngine, T>) -> T {
        get { engine[keyPath: keyPath] }
        set { engine[keyPath: keyPath] = newValue }
    }

    /// Counts one observation in the windows, then feeds it to the fast path and the fault rules.
    @discardableResult
    public mutating func record(_ observation: Observation) -> RankingEngine.RecordResult {
        record(batch: [observation])[0]
    }

    /// Counts a batch in the windows, then feeds the fast path and the fault rules in order.
    @discardableResult
    public mutating func record(batch observations: [Observation]) -> [RankingEngine.RecordResult] {
        let engine = engine
        let admissions = windows.record(batch: observations, known: observations.map { engine.isKnown($0.endpointID) }, persist: true)
        return self.engine.record(observations, admissions: admissions)
    }

    /// Restores stored buckets, as the daemon's start-up does: into the past and the windows.
    public mutating func load(_ buckets: [MinuteBucket]) {
        let engine = engine
        let known = buckets.filter { engine.isKnown($0.endpointID) }
        past.add(known)
        for bucket in known { windows.load(bucket) }
        windows.packPast()
    }

    /// Writes what the windows counted to the past, then advances them to `now`.
    public mutating func advance(to now: Timestamp) {
        past.add(windows.drainPendingBuckets())
        // The in-memory past cannot fail to read.
        _ = try! windows.advance(to: now, past: &past)
    }

    public mutating func computeEpoch(now: Timestamp, trigger: EpochTrigger) -> Epoch {
        advance(to: now)
        return engine.computeEpoch(now: now, trigger: trigger, windows: windows.totals)
    }

    public mutating func outliersBetweenEpochs(now: Timestamp) -> [String: [String]] {
        advance(to: now)
        return engine.outliersBetweenEpochs(now: now, windows: windows.totals)
    }

    /// One endpoint's window totals as of the last advance (with what was counted since).
    public func stats(for endpointID: String) -> WindowStats { windows.stats(for: endpointID) }

    public mutating func setOverrides(_ overrides: [Override]) { engine.setOverrides(overrides) }

    public mutating func setBenchmarks(_ benchmarks: [String: Double]) { engine.setBenchmarks(benchmarks) }

    public mutating func recordSlowProbe(endpointID: String, at time: Timestamp, waitedMilliseconds: Double) -> FastPathDetector.Trigger? {
        engine.recordSlowProbe(endpointID: endpointID, at: time, waitedMilliseconds: waitedMilliseconds)
    }

    public func shareLimits(at now: Timestamp) -> [String: ShareLimit] { engine.shareLimits(at: now) }

    public func shareLimitEnded(at now: Timestamp) -> Bool { engine.shareLimitEnded(at: now) }

    public func liveRequestsPerSecond(at now: Timestamp) -> [String: Double] { engine.liveRequestsPerSecond(at: now) }
}
