import Foundation
import Logging
import RankdConfig
import RankdCore
import RankdServer
import RankdStore
import Synchronization

/// The daemon's ranking state: the pure `RankingEngine` behind an actor, with the stores it
/// persists to and the in-memory epoch the API serves. Every signal source (prober, telemetry,
/// demo traffic) calls `record`; the epoch loop and the admin API call `computeAndPublish`.
public actor Ranker {
    public nonisolated let holder: EpochHolder
    public nonisolated let metrics: RankdMetrics
    let clock: any WallClock
    let logger: Logger
    let state: StateStore
    /// Read-only use of the state store for history answers (GRDB's pool reads concurrently).
    public nonisolated var history: StateStore { state }
    let published: PublishedStore
    let retention: RankdConfiguration.Retention
    let dataDirectory: String
    private var engine: RankingEngine
    /// The registry in id order: the engine's own array, for others to share rather than copy.
    public nonisolated let registry: [Endpoint]
    /// Set until the windows are rebuilt from `state.db` (`rebuildWindows`): the time they were
    /// opened at. Start-up serves the last epoch without waiting for them.
    private var windowsStartedAt: Timestamp?
    private let publisher: EpochPublisher
    private var unsavedBuckets: [MinuteBucket] = []
    private let triggerContinuation: AsyncStream<EpochTrigger>.Continuation
    /// Requests for an epoch out of schedule (fast path); coalesced: one pending is enough.
    public nonisolated let triggers: AsyncStream<EpochTrigger>
    /// Held by the ingest writer from a commit until it is recorded here, and here while the
    /// windows read back what leaves them (`advanceWindows`).
    public nonisolated let ingestGate = IngestGate()
    /// Endpoints whose known-answer test leans towards failure, for the prober (updated as
    /// observations are recorded).
    public nonisolated let knownAnswerSuspects = Mutex<Set<String>>([])
    /// Live requests a second per endpoint over about the last minute, with a version that grows
    /// at each refresh (at every epoch and every outlier check): the prober's exposure.
    public nonisolated let liveRates = Mutex<(version: Int64, rates: [String: Double])>((0, [:]))

    /// Opens (or creates) `state.db` and `rankings.db` in the data directory, rebuilds the windows
    /// from stored minute buckets, restores demotion memory, and serves the last epoch at once.
    public init(
        loaded: LoadedConfiguration, clock: any WallClock, holder: EpochHolder = EpochHolder(), metrics: RankdMetrics = RankdMetrics(),
        logger: Logger
    ) throws {
        let configuration = loaded.configuration
        // Start-up phases are timed for the "state restored" line (what start-up time goes to).
        var phases: [(String, Double)] = []
        var phaseStart = ContinuousClock.now
        func phase(_ name: String) {
            let now = ContinuousClock.now
            phases.append((name, (now - phaseStart).milliseconds))
            phaseStart = now
        }
        self.clock = clock
        self.holder = holder
        self.metrics = metrics
        metrics.epochInterval(seconds: Double(loaded.configuration.epochIntervalSeconds))
        self.logger = logger
        retention = configuration.retention
        dataDirectory = configuration.dataDirectory
        state = try StateStore(path: "\(configuration.dataDirectory)/state.db")
        published = try PublishedStore(path: "\(configuration.dataDirectory)/rankings.db")
        phase("open_ms")
        let now = clock.now()
        try state.saveRegistry(configuration.endpoints, at: now)
        phase("registry_ms")
        let last = try state.latestEpoch()
        phase("last_epoch_ms")
        engine = RankingEngine(
            policy: loaded.policy, endpoints: configuration.endpoints, benchmarks: BenchmarkScore.combined(loaded.benchmarks), now: now,
            lastEpochID: last?.id ?? 0, demotions: try state.loadDemotions(), pastInStore: true)
        registry = engine.endpoints
        // Live telemetry acknowledged before a crash may still be in the journal: fold it now,
        // before any new record is journalled, so the windows' rebuild reads it exactly once.
        try state.foldJournal()
        phase("journal_ms")
        windowsStartedAt = now
        engine.setOverrides(try state.activeOverrides(at: now))
        publisher = EpochPublisher(
            state: state, published: published, holder: holder, metrics: metrics, retention: retention,
            dataDirectory: configuration.dataDirectory, newestPublishedID: last?.id ?? 0, logger: logger)
        (triggers, triggerContinuation) = AsyncStream.makeStream(of: EpochTrigger.self, bufferingPolicy: .bufferingNewest(1))
        if let last {
            // A crash between history and publication leaves rankings.db one epoch behind: catch up.
            if try published.currentEpochID() != last.id {
                try published.publish(
                    last, endpoints: configuration.endpoints, at: now, retentionSeconds: retention.publishedEpochsHours * 3600)
            }
            phase("catch_up_ms")
            try holder.publish(last)
            metrics.currentEpoch(last)
            phase("serve_last_epoch_ms")
        }
        var metadata: Logger.Metadata = [
            "data_dir": .string(configuration.dataDirectory), "endpoints": .stringConvertible(configuration.endpoints.count),
            "last_epoch": .string(last.map { String($0.id) } ?? "none"),
        ]
        for (name, milliseconds) in phases { metadata[name] = .string(String(format: "%.1f", milliseconds)) }
        logger.info("state restored", metadata: metadata)
    }

    /// Rebuilds the windows from the stored buckets (hour rows and the short window's minutes), once.
    ///
    /// Start-up does not wait for this: `/readyz` is true as soon as the last epoch is served, and
    /// the epoch loop calls this first, before it computes an epoch, writes a bucket or folds the
    /// journal (every other caller that needs the windows calls it too). Nothing is counted twice:
    /// what is recorded meanwhile is in memory and in the journal or the pending buckets, none of
    /// which this reads. Returns the buckets loaded (0 when already done).
    @discardableResult
    public func rebuildWindows() throws -> Int {
        guard let openedAt = windowsStartedAt else { return 0 }
        let started = ContinuousClock.now
        let windows = engine.windowMinutes
        // Loaded as they are read (an array of every bucket was hundreds of megabytes at 20,000
        // busy endpoints). A read that fails half-way must not leave half the buckets loaded (the
        // next attempt would count them twice): they go into a copy, kept only when all were read.
        var engine = engine
        // From the first span of the long window: the windows read back whole spans when they
        // leave, so they must hold whole spans (hour rows only if a span is an hour).
        let span = windows.spanMinutes
        let count = try state.forEachWindowBucket(
            sinceMinute: WindowAggregator.spanStart(of: openedAt.minute - windows.long + 1, span: span),
            shortWindowStartMinute: openedAt.minute - windows.short + 1, hourRows: span == 60
        ) { engine.load($0) }
        engine.finishLoading()
        self.engine = engine
        windowsStartedAt = nil
        logger.info(
            "windows rebuilt",
            metadata: [
                "buckets": .stringConvertible(count), "read_and_load_ms": .string(String(format: "%.1f", (ContinuousClock.now - started).milliseconds)),
            ])
        return count
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

    /// Feeds observations to the windows and the fast path. A fast-path trigger asks the epoch
    /// loop for an epoch now.
    /// - Parameter persisted: the observations' buckets are already committed (live telemetry).
    @discardableResult
    public func record(_ observations: [Observation], persisted: Bool = false) -> RecordSummary {
        WorkerPriority.lower()
        var summary = RecordSummary()
        // (source, result) -> count, so metrics are updated once per batch, not per observation.
        var counts: [String: [String: Int]] = [:]
        let results = engine.record(batch: observations, persisted: persisted)
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
        do {
            try await advanceWindows(to: now)
        } catch {
            metrics.publishFailure()
            logger.error("epoch not computed: the windows could not read back what left them", metadata: ["error": .string("\(error)")])
            await publisher.markFailed(error)
            throw error
        }
        let before = Set(engine.demotions.filter(\.value.isDemoted).keys)
        let epoch = engine.computeEpoch(now: now, trigger: trigger)
        refreshLiveRates()
        metrics.windowTallies(minutes: engine.storedMinuteCount, spans: engine.storedSpanCount, totalBytes: engine.windowTotalBytes)
        do {
            try saveBuckets()
        } catch {
            metrics.publishFailure()
            logger.error("epoch not published", metadata: ["epoch_id": .stringConvertible(epoch.id), "error": .string("\(error)")])
            await publisher.markFailed(error)
            throw error
        }
        try await publisher.publish(
            EpochPublisher.Computed(
                epoch: epoch, trigger: trigger, now: now, demotedBefore: before, demotionsAfter: engine.demotions,
                endpoints: engine.endpoints, shortWindowStartMinute: now.minute - engine.windowMinutes.short + 1,
                keepBucketsFromMinute: WindowAggregator.spanStart(
                    of: now.minute - engine.windowMinutes.long + 1, span: engine.windowMinutes.spanMinutes) - 60,
                started: started))
        return epoch
    }

    /// Moves the windows to `now`, reading back from `state.db` what leaves them (once a minute):
    /// holding the ingest gate, so that no committed record is still on its way here, with the
    /// probe tallies written first, so the rows read hold everything the windows counted. On a
    /// storage error the windows stay where they were (they lag, they do not drift) and the error
    /// is thrown; the next call catches up.
    func advanceWindows(to now: Timestamp) async throws {
        try rebuildWindows()
        guard now.minute > engine.windowsCurrentMinute else { return }
        await ingestGate.lock()
        defer { ingestGate.unlock() }
        try saveBuckets()
        let started = ContinuousClock.now
        var rows = 0
        try engine.advanceWindows(to: now) { departures, subtract in
            rows = try state.readDepartures(departures, subtract)
        }
        logger.debug(
            "windows advanced",
            metadata: [
                "minute": .stringConvertible(now.minute), "rows_read": .stringConvertible(rows),
                "ms": .string(String(format: "%.1f", (ContinuousClock.now - started).milliseconds)),
            ])
    }

    /// Writes what is still in memory (minute buckets) to `state.db`; called on shutdown.
    public func flush() throws {
        try rebuildWindows()
        try saveBuckets()
    }

    /// Folds the live journal into the minute buckets (see `StateStore.foldJournal`), on the
    /// store's writer, so observations go on being recorded meanwhile. The windows are rebuilt
    /// first if they were not yet: the rebuild reads the minute buckets without the journal, so a
    /// fold before it would count the journalled records twice. Returns the records folded.
    @discardableResult
    public func foldJournal() async throws -> Int {
        try rebuildWindows()
        return try await state.foldJournalAsync()
    }

    /// Writes pending minute buckets in one transaction; on failure they are kept for the next
    /// attempt (nothing was committed, so nothing is counted twice).
    private func saveBuckets() throws {
        unsavedBuckets += engine.drainPendingBuckets()
        guard !unsavedBuckets.isEmpty else { return }
        try state.addBuckets(unsavedBuckets)
        unsavedBuckets.removeAll()
    }

    // MARK: Operator overrides

    /// Records an override and publishes an epoch with it at once. Nil for an unknown endpoint.
    public func applyOverride(_ request: OverrideRequest) async throws -> (Override, Epoch)? {
        guard engine.endpoints.contains(where: { $0.id == request.endpointID }) else { return nil }
        let now = clock.now()
        let override = try state.addOverride(request, now: now)
        engine.setOverrides(try state.activeOverrides(at: now))
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
        let now = clock.now()
        guard let (override, changed) = try state.revokeOverride(id: id, note: note, now: now) else { return nil }
        guard changed else { return (override, nil) }
        engine.setOverrides(try state.activeOverrides(at: now))
        logger.notice(
            "override withdrawn", metadata: ["override_id": .stringConvertible(id), "endpoint_id": .string(override.endpointID)])
        return (override, try await computeAndPublish(.override))
    }

    public func overrides(includeEnded: Bool) throws -> [Override] {
        includeEnded ? try state.allOverrides() : try state.activeOverrides(at: clock.now())
    }

    /// Runs the failure-outlier rules on the in-memory short window (between epochs) and asks for
    /// an epoch when one fires for an endpoint not yet demoted. Returns the endpoints it found.
    @discardableResult
    public func checkOutliersBetweenEpochs() async -> [String: [String]] {
        do {
            try await advanceWindows(to: clock.now())
        } catch {
            logger.error("outlier check skipped: the windows could not read back what left them", metadata: ["error": .string("\(error)")])
            return [:]
        }
        let found = engine.outliersBetweenEpochs(now: clock.now())
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

    /// Window totals of one endpoint, for tests and diagnostics.
    public func stats(for endpointID: String) -> WindowStats {
        _ = try? rebuildWindows()
        return engine.stats(for: endpointID)
    }
}

extension Duration {
    /// Whole and fractional milliseconds.
    var milliseconds: Double {
        Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15
    }
}
