import Foundation
import Logging
import RankdConfig
import RankdCore
import RankdPlatform
import RankdServer
import RankdStore
import Synchronization

/// The daemon's ranking state: the pure `RankingEngine` behind an actor, the in-memory epoch the
/// API serves, and what it needs to publish. Every signal source (prober, telemetry, demo
/// traffic) records through it: the `WindowLedger` counts, then the engine's fast path and fault
/// rules look. The epoch loop and the admin API call `computeAndPublish`, which asks the ledger
/// to advance and scores its totals.
public actor Ranker {
    public nonisolated let holder: EpochHolder
    public nonisolated let metrics: RankdMetrics
    let clock: any WallClock
    let logger: Logger
    private let ledger: WindowLedger
    /// Demotion memory (read at start) and operator overrides.
    private let demotionStore: DemotionStore
    /// Benchmark scores set through the admin API (they win over the files' for the same endpoint and benchmark).
    private let benchmarkStore: BenchmarkStore
    /// Benchmark scores from `benchmarks_dir`, as loaded at start or at the last reload.
    private var fileBenchmarks: [BenchmarkScore]
    private var engine: RankingEngine
    private let history: EpochHistory
    private let registryStore: RegistryStore
    /// The registry in id order: the engine's own array, for others to share rather than copy
    /// (a reload replaces it).
    public nonisolated var registry: [Endpoint] { registryBox.withLock { $0 } }
    private nonisolated let registryBox: Mutex<[Endpoint]>
    private let publisher: EpochPublisher
    private let triggerContinuation: AsyncStream<EpochTrigger>.Continuation
    /// Requests for an epoch out of schedule (fast path); coalesced: one pending is enough.
    public nonisolated let triggers: AsyncStream<EpochTrigger>
    /// Endpoints whose known-answer test leans towards failure, for the prober (updated as
    /// observations are recorded).
    public nonisolated let knownAnswerSuspects = Mutex<Set<String>>([])
    /// Live requests a second per endpoint over about the last minute, with a version that grows
    /// at each refresh (at every epoch and every outlier check): the prober's exposure.
    public nonisolated let liveRates = Mutex<(version: Int64, rates: [String: Double])>((0, [:]))
    /// With `storage.postgres`: this replica's role; nil for a single node (always the leader).
    private nonisolated let membership = Mutex<ClusterMembership?>(nil)
    private var cluster: ClusterMembership? { membership.withLock { $0 } }

    /// How a replica of a cluster publishes: only while it leads, each epoch written to
    /// PostgreSQL through the leader's session (`fence`) before it is published here.
    struct ClusterMembership: Sendable {
        var status: ClusterStatus
        var fence: @Sendable (_ epoch: Epoch, _ demotions: [String: DemotionState], _ admin: EpochTransfer.AdminState) async throws -> Void
        /// The refusal a follower gives for what only the leader does (naming the leader).
        var notLeader: @Sendable () async -> NotLeader
    }

    /// Restores demotion memory and overrides from `state.db` and serves the last epoch at once
    /// (catching `rankings.db` up if a crash left it one epoch behind). `phases`: start-up phases
    /// timed so far, for the "state restored" line.
    init(
        loaded: LoadedConfiguration, stores: DaemonStores, ledger: WindowLedger, clock: any WallClock, holder: EpochHolder,
        metrics: RankdMetrics, logger: Logger, phases: StartupPhases
    ) throws {
        let configuration = loaded.configuration
        var phases = phases
        self.clock = clock
        self.holder = holder
        self.metrics = metrics
        metrics.epochInterval(seconds: Double(loaded.configuration.epochIntervalSeconds))
        self.logger = logger
        self.ledger = ledger
        demotionStore = stores.state.demotions
        benchmarkStore = stores.state.benchmarks
        fileBenchmarks = loaded.benchmarks
        history = stores.state.history
        registryStore = stores.state.registry
        let now = clock.now()
        let last = try stores.state.history.latest()
        try stores.state.history.recordPolicy(loaded.policy, at: now)
        try stores.state.benchmarks.recordFileSet(loaded.benchmarks, at: now)
        phases.end("last_epoch_ms")
        engine = RankingEngine(
            policy: loaded.policy, endpoints: configuration.endpoints, now: now, lastEpochID: last?.id ?? 0,
            demotions: try stores.state.demotions.load())
        engine.parallelism = Parallel.scoring
        registryBox = Mutex(engine.endpoints)
        engine.setOverrides(try stores.state.demotions.activeOverrides(at: now))
        engine.setBenchmarkScores(
            BenchmarkScore.inForce(files: loaded.benchmarks, api: try stores.state.benchmarks.scores(), registry: engine.endpoints))
        publisher = EpochPublisher(
            history: stores.state.history, ledger: ledger, published: stores.published, holder: holder, metrics: metrics, retention: configuration.retention,
            dataDirectory: configuration.dataDirectory, newestPublishedID: last?.id ?? 0, logger: logger)
        (triggers, triggerContinuation) = AsyncStream.makeStream(of: EpochTrigger.self, bufferingPolicy: .bufferingNewest(1))
        if let last {
            // A crash between history and publication leaves rankings.db one epoch behind: catch up.
            if try stores.published.currentEpochID() != last.id {
                try stores.published.publish(
                    last, endpoints: configuration.endpoints, at: now,
                    retentionSeconds: configuration.retention.publishedEpochsHours * 3600)
            }
            phases.end("catch_up_ms")
            try holder.publish(last)
            metrics.currentEpoch(last)
            phases.end("serve_last_epoch_ms")
        }
        var metadata: Logger.Metadata = [
            "data_dir": .string(configuration.dataDirectory), "endpoints": .stringConvertible(configuration.endpoints.count),
            "last_epoch": .string(last.map { String($0.id) } ?? "none"),
        ]
        for (name, milliseconds) in phases.timed { metadata[name] = .string(String(format: "%.1f", milliseconds)) }
        logger.info("state restored", metadata: metadata)
    }

    /// Summary of one `record` call.
    public struct RecordSummary: Sendable, Equatable {
        public var accepted = 0
        public var tooOld = 0
        public var unknownEndpoint = 0
        public var fastPathTriggers = 0

        public init(accepted: Int = 0, tooOld: Int = 0, unknownEndpoint: Int = 0, fastPathTriggers: Int = 0) {
            self.accepted = accepted
            self.tooOld = tooOld
            self.unknownEndpoint = unknownEndpoint
            self.fastPathTriggers = fastPathTriggers
        }
    }

    /// Counts observations not yet in the store (probes, demo traffic) and feeds them to the
    /// fast path and the fault rules. A fast-path trigger asks the epoch loop for an epoch now.
    @discardableResult
    public func record(_ observations: [Observation]) async -> RecordSummary {
        let counted = await ledger.count(observations)
        return watch(observations, counted)
    }

    /// Counts a committed live group (releasing its hold on the ingest gate) and feeds it to
    /// the fast path and the fault rules.
    @discardableResult
    public func record(_ group: WindowLedger.LiveGroup) async -> RecordSummary {
        let counted = await ledger.count(group)
        return watch(group.accepted, counted)
    }

    private func watch(_ observations: [Observation], _ counted: WindowLedger.Counted) -> RecordSummary {
        WorkerPriority.lower()
        var summary = RecordSummary()
        // (source, result) -> count, so metrics are updated once per batch, not per observation.
        var counts: [String: [String: Int]] = [:]
        let results = engine.record(observations, admissions: counted.admissions, positions: counted.positions)
        for (observation, outcome) in zip(observations, results) {
            let result: String
            switch outcome {
            case .accepted:
                summary.accepted += 1
                result = "accepted"
            case .tooOld:
                summary.tooOld += 1
                result = "too_old"
            case .unknownEndpoint:
                summary.unknownEndpoint += 1
                result = "unknown_endpoint"
            case .fastPath(let trigger):
                summary.accepted += 1
                summary.fastPathTriggers += 1
                result = "accepted"
                metrics.fastPathTrigger(reason: trigger.reason)
                logger.warning(
                    "fast path tripped",
                    metadata: [
                        "endpoint_id": .string(trigger.endpointID), "reason": .string(trigger.reason), "detail": .string(trigger.detail),
                    ])
                triggerContinuation.yield(.fastPath)
            case .shareLimited(let trigger):
                summary.accepted += 1
                result = "accepted"
                shareLimited(trigger)
            }
            counts[observation.source.rawValue, default: [:]][result, default: 0] += 1
        }
        let suspects = engine.knownAnswerSuspects
        if knownAnswerSuspects.withLock({ $0 != suspects }) { knownAnswerSuspects.withLock { $0 = suspects } }
        for (source, results) in counts {
            for (result, count) in results { metrics.observations(source: source, result: result, count: count) }
        }
        return summary
    }

    private func refreshLiveRates() {
        let rates = engine.liveRequestsPerSecond(at: clock.now())
        liveRates.withLock { $0 = ($0.version + 1, rates) }
    }

    /// A share limit began: logged, counted, and published by an epoch now.
    private func shareLimited(_ trigger: FastPathDetector.Trigger) {
        metrics.fastPathTrigger(reason: trigger.reason)
        logger.warning(
            "share lowered",
            metadata: [
                "endpoint_id": .string(trigger.endpointID), "reason": .string(trigger.reason), "detail": .string(trigger.detail),
            ])
        triggerContinuation.yield(.fastPath)
    }

    /// A probe without a first token past the policy's bound: slow evidence now.
    public func recordSlowProbe(endpointID: String, at time: Timestamp, waitedMilliseconds: Double) {
        if let trigger = engine.recordSlowProbe(endpointID: endpointID, at: time, waitedMilliseconds: waitedMilliseconds) {
            shareLimited(trigger)
        }
    }

    /// True when a share limit in the served epoch has ended: an epoch should restore the share.
    public func shareLimitEnded() -> Bool { engine.shareLimitEnded(at: clock.now()) }

    /// Asks the epoch loop for an epoch (used by the interval timer).
    public nonisolated func requestEpoch(_ trigger: EpochTrigger) {
        triggerContinuation.yield(trigger)
    }

    // MARK: Several replicas (storage.postgres)

    /// Makes this ranker a replica of a cluster: it publishes only while `status` says it leads.
    nonisolated func joinCluster(_ membership: ClusterMembership) {
        self.membership.withLock { $0 = membership }
    }

    /// Throws the follower's refusal unless this replica may publish.
    private func requireLeader() async throws {
        if let cluster, !cluster.status.isLeader { throw await cluster.notLeader() }
    }

    /// A follower serves an epoch the leader published: into history with the demotion memory it
    /// left, into `rankings.db`, then served (an older one than the served epoch: history only).
    func adopt(_ epoch: Epoch, demotions: [String: DemotionState], admin: EpochTransfer.AdminState?) async throws {
        let now = clock.now()
        if let admin {
            try demotionStore.mirror(admin.overrides)
            if let upload = admin.upload { try benchmarkStore.mirror(admin.benchmarkScores, upload: upload) }
        }
        let before = Set((holder.epoch?.models ?? []).flatMap(\.endpoints).filter { $0.status == .demoted }.map(\.endpointID))
        try await publisher.publish(
            EpochPublisher.Computed(
                epoch: epoch, trigger: epoch.trigger, now: now, demotedBefore: before, demotionsAfter: demotions,
                endpoints: engine.endpoints, shortWindowStartMinute: now.minute - ledger.lengths.short + 1,
                keepBucketsFromMinute: WindowAggregator.spanStart(of: now.minute - ledger.lengths.long + 1, span: ledger.lengths.spanMinutes) - 60,
                started: ContinuousClock.now, adopted: true))
    }

    /// A follower becomes the leader: the next epoch follows the newest one it serves, with the
    /// demotion memory that epoch left (saved with it), overrides and benchmark uploads as stored.
    func assumeLeadership() throws {
        let now = clock.now()
        engine.continueAfter(lastEpochID: holder.epoch?.id ?? 0, demotions: try demotionStore.load())
        engine.setOverrides(try demotionStore.activeOverrides(at: now))
        engine.setBenchmarkScores(BenchmarkScore.inForce(files: fileBenchmarks, api: try benchmarkStore.scores(), registry: engine.endpoints))
    }

    /// The leader's write of `epoch` to PostgreSQL, with the demotion memory it leaves; nil for a single node.
    private func fence(_ epoch: Epoch) -> (@Sendable () async throws -> Void)? {
        guard let cluster else { return nil }
        let demotions = engine.demotions
        let admin = Result {
            EpochTransfer.AdminState(
                overrides: try demotionStore.allOverrides(), benchmarkScores: try benchmarkStore.scores(),
                benchmarkUpload: try benchmarkStore.uploads(limit: 1).first)
        }
        return { try await cluster.fence(epoch, demotions, try admin.get()) }
    }

    /// A follower's epoch loop: the windows advance (what leaves them is read back, the buckets
    /// written), nothing is scored or published.
    private func advanceAsFollower(now: Timestamp) async throws {
        try await scoreOnLentTotals(now: now) { _, _ in }
        try await ledger.flush()
    }

    /// Computes the next epoch, records it in history with the demotion memory, publishes it to
    /// `rankings.db` in one transaction, then swaps it into memory. On a storage error the
    /// previous epoch keeps being served and the error is thrown.
    ///
    /// Only the computation holds the ranker; the publication (seconds of encoding and writing at
    /// 20,000 endpoints) runs on the `EpochPublisher` while observations go on being recorded.
    @discardableResult
    public func computeAndPublish(_ trigger: EpochTrigger) async throws -> Epoch {
        WorkerPriority.lower()
        let started = ContinuousClock.now
        let now = clock.now()
        if let cluster, !cluster.status.isLeader {
            try await advanceAsFollower(now: now)
            throw await cluster.notLeader()
        }
        let before = Set(engine.demotions.filter(\.value.isDemoted).keys)
        let epoch: Epoch
        do {
            epoch = try await scoreOnLentTotals(now: now) { engine, windows in engine.computeEpoch(now: now, trigger: trigger, windows: windows) }
        } catch {
            metrics.publishFailure()
            logger.error("epoch not computed: the windows could not read back what left them", metadata: ["error": .string("\(error)")])
            await publisher.markFailed(error)
            throw error
        }
        refreshLiveRates()
        let memory = await ledger.memory
        metrics.windowTallies(minutes: memory.minutes, spans: memory.spans, totalBytes: memory.totalBytes)
        do {
            try await ledger.flush()
        } catch {
            metrics.publishFailure()
            logger.error("epoch not published", metadata: ["epoch_id": .stringConvertible(epoch.id), "error": .string("\(error)")])
            await publisher.markFailed(error)
            throw error
        }
        try await publisher.publish(
            EpochPublisher.Computed(
                epoch: epoch, trigger: trigger, now: now, demotedBefore: before, demotionsAfter: engine.demotions,
                endpoints: engine.endpoints, shortWindowStartMinute: now.minute - ledger.lengths.short + 1,
                keepBucketsFromMinute: WindowAggregator.spanStart(of: now.minute - ledger.lengths.long + 1, span: ledger.lengths.spanMinutes) - 60,
                started: started, fence: fence(epoch)))
        return epoch
    }

    // MARK: Configuration reload

    /// What a reload changed in the ranking.
    public struct Reloaded: Sendable {
        /// Nil when the epoch could not be published (the error is logged; the configuration is in
        /// force and the next epoch publishes it).
        public var epoch: Epoch?
        public var added: [String]
        public var removed: [String]
        public var policyHash: String
    }

    /// Ranks with `policy` and `endpoints` from now on and publishes an epoch at once (trigger
    /// `reload`). Demotion memory, overrides and the admin API's benchmark scores carry over; a
    /// new endpoint starts with no data (insufficient data until probed), a removed one is no
    /// longer ranked (its history stays). The fault rules' between-epoch evidence starts afresh,
    /// as at a restart. The caller has checked that nothing needing a restart changed.
    public func reload(policy: Policy, endpoints: [Endpoint], fileBenchmarks: [BenchmarkScore]) async throws -> Reloaded {
        let now = clock.now()
        try history.recordPolicy(policy, at: now)
        try registryStore.save(endpoints, at: now)
        try benchmarkStore.recordFileSet(fileBenchmarks, at: now)
        var next = RankingEngine(
            policy: policy, endpoints: endpoints, now: now, lastEpochID: engine.lastEpochID, demotions: engine.demotions)
        next.parallelism = engine.parallelism
        next.setOverrides(engine.overrides)
        next.setBenchmarkScores(
            BenchmarkScore.inForce(files: fileBenchmarks, api: try benchmarkStore.scores(), registry: next.endpoints))
        let before = Set(engine.endpoints.map(\.id))
        let after = Set(next.endpoints.map(\.id))
        // The ledger first: a batch counted between the two is checked against the engine's own
        // registry there (a position that no longer matches is looked up again).
        await ledger.setRegistry(next.endpoints)
        engine = next
        self.fileBenchmarks = fileBenchmarks
        registryBox.withLock { $0 = next.endpoints }
        // In force from here on whatever happens to this epoch: a storage error is logged by the
        // publication, and the next epoch publishes the new configuration.
        let epoch = try? await computeAndPublish(.reload)
        return Reloaded(epoch: epoch, added: after.subtracting(before).sorted(), removed: before.subtracting(after).sorted(), policyHash: policy.hash)
    }

    // MARK: Operator overrides

    /// Records an override and publishes an epoch with it at once. Nil for an unknown endpoint.
    public func applyOverride(_ request: OverrideRequest) async throws -> (Override, Epoch)? {
        try await requireLeader()
        guard engine.endpoints.contains(where: { $0.id == request.endpointID }) else { return nil }
        let now = clock.now()
        let override = try demotionStore.addOverride(request, now: now)
        engine.setOverrides(try demotionStore.activeOverrides(at: now))
        logger.notice(
            "override made",
            metadata: [
                "override_id": .stringConvertible(override.id), "endpoint_id": .string(override.endpointID),
                "action": .string(override.action.rawValue), "until": .string(RFC3339.format(override.expiresAt)),
                "note": .string(override.note),
            ])
        return (override, try await computeAndPublish(.override))
    }

    /// Ends an override early and publishes an epoch without it. Nil for an unknown id; the epoch
    /// is nil when the override had already ended.
    public func revokeOverride(id: Int64, note: String?) async throws -> (Override, Epoch?)? {
        try await requireLeader()
        let now = clock.now()
        guard let (override, changed) = try demotionStore.revokeOverride(id: id, note: note, now: now) else { return nil }
        guard changed else { return (override, nil) }
        engine.setOverrides(try demotionStore.activeOverrides(at: now))
        logger.notice(
            "override withdrawn", metadata: ["override_id": .stringConvertible(id), "endpoint_id": .string(override.endpointID)])
        return (override, try await computeAndPublish(.override))
    }

    // MARK: Benchmark scores

    /// Replaces the admin API's benchmark scores (recorded with the upload, in one transaction),
    /// then publishes an epoch with them (trigger `benchmarks`).
    public func replaceBenchmarks(_ scores: [BenchmarkScore], author: String?, note: String?) async throws -> (BenchmarkUpload, Epoch) {
        try await requireLeader()
        let upload = try benchmarkStore.replace(scores, author: author, note: note, now: clock.now())
        engine.setBenchmarkScores(BenchmarkScore.inForce(files: fileBenchmarks, api: scores, registry: engine.endpoints))
        logger.notice(
            "benchmark scores replaced",
            metadata: ["upload_id": .stringConvertible(upload.id), "scores": .stringConvertible(upload.scores), "replaced": .stringConvertible(upload.replaced)])
        return (upload, try await computeAndPublish(.benchmarks))
    }

    /// What `GET /v1/benchmarks` shows: the scores in force with where each came from, the
    /// policy's fading, and the uploads (newest first).
    public func benchmarkListing(uploads limit: Int) throws -> BenchmarkListing {
        let api = try benchmarkStore.scores()
        let apiKeys = Set(api.map(\.key))
        let effective = BenchmarkScore.inForce(files: fileBenchmarks, api: api, registry: engine.endpoints)
        return BenchmarkListing(
            scores: effective.map { ($0, apiKeys.contains($0.key) ? "api" : "file") },
            maxAgeDays: engine.policy.benchmarks.maxAgeDays, uploads: try benchmarkStore.uploads(limit: limit), asOf: clock.now())
    }

    public func overrides(includeEnded: Bool) throws -> [Override] {
        includeEnded ? try demotionStore.allOverrides() : try demotionStore.activeOverrides(at: clock.now())
    }

    /// Has the ledger advance the windows to `now` and lend their totals, runs `body` on them,
    /// and gives them back once nothing here references them (the ledger counts what came
    /// meanwhile then, instead of copying the table the scorer reads). Throws the advance's error.
    private func scoreOnLentTotals<T>(now: Timestamp, _ body: (inout RankingEngine, WindowTotals) -> T) async throws -> T {
        let result = try await scored(now: now, body)
        await ledger.giveBack()
        return result
    }

    /// The lent totals live in this call only: released when it returns, before `giveBack`.
    private func scored<T>(now: Timestamp, _ body: (inout RankingEngine, WindowTotals) -> T) async throws -> T {
        let windows = try await ledger.lend(advancingTo: now)
        return body(&engine, windows)
    }

    /// Runs the failure-outlier rules on the in-memory short window (between epochs) and asks for
    /// an epoch when one fires for an endpoint not yet demoted. Returns the endpoints it found.
    @discardableResult
    public func checkOutliersBetweenEpochs() async -> [String: [String]] {
        let now = clock.now()
        let found: [String: [String]]
        do {
            found = try await scoreOnLentTotals(now: now) { engine, windows in engine.outliersBetweenEpochs(now: now, windows: windows) }
        } catch {
            logger.error("outlier check skipped: the windows could not read back what left them", metadata: ["error": .string("\(error)")])
            return [:]
        }
        refreshLiveRates()
        for (id, reasons) in found.sorted(by: { $0.key < $1.key }) {
            for reason in reasons { metrics.fastPathTrigger(reason: reason) }
            logger.warning(
                "outlier between epochs", metadata: ["endpoint_id": .string(id), "reasons": .string(reasons.joined(separator: ","))])
        }
        if !found.isEmpty { triggerContinuation.yield(.fastPath) }
        return found
    }

    /// True when an override in force has reached its expiry: an epoch should publish without it.
    public func overrideExpiryDue() -> Bool {
        guard let next = engine.nextOverrideExpiry else { return false }
        return clock.now() >= next
    }

}

extension Duration {
    /// Whole and fractional milliseconds.
    var milliseconds: Double {
        Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15
    }
}
