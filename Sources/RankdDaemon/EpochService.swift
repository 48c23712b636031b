import Logging
import RankdCore
import RankdServer
import ServiceLifecycle

/// The epoch loop: one epoch at start, then one every interval and whenever the fast path asks.
/// The ledger writes probe minute buckets to `state.db` every `flushIntervalSeconds` in between,
/// so a crash loses seconds of probe observations, not an epoch's worth. The live journal
/// (already durable) is folded into the minute buckets every `foldIntervalSeconds`: each fold
/// rewrites every bucket the journal touches, so folding often costs much of a busy daemon's CPU.
/// On graceful shutdown it finishes the epoch in progress, flushes buckets and returns.
public struct EpochService: Service {
    let ranker: Ranker
    let ledger: WindowLedger
    let storage: StorageHealth
    /// The loop's time: the daemon's system clock, a manual one in tests.
    let clock: any WallClock
    let intervalSeconds: Double
    let flushIntervalSeconds: Double
    let foldIntervalSeconds: Double
    let logger: Logger

    let outlierCheckSeconds: Double
    let routing: Policy.Routing
    let coldStart: ColdStart?

    /// - Parameters:
    ///   - routing: the policy's cold-start bound, warm-up interval and the least spacing of
    ///     epochs out of schedule.
    ///   - coldStart: when given, the first informed epoch follows the first probe round.
    public init(
        ranker: Ranker, ledger: WindowLedger, storage: StorageHealth, clock: any WallClock, intervalSeconds: Double, flushIntervalSeconds: Double = 10, foldIntervalSeconds: Double = 60,
        outlierCheckSeconds: Double = 0, routing: Policy.Routing = Policy.Routing(), coldStart: ColdStart? = nil, logger: Logger
    ) {
        self.routing = routing
        self.coldStart = coldStart
        self.outlierCheckSeconds = outlierCheckSeconds
        self.ranker = ranker
        self.ledger = ledger
        self.storage = storage
        self.clock = clock
        self.intervalSeconds = intervalSeconds
        self.flushIntervalSeconds = flushIntervalSeconds
        self.foldIntervalSeconds = foldIntervalSeconds
        self.logger = logger
    }

    public func run() async throws {
        // The windows first (start-up served the last epoch without waiting for them); on a
        // storage error the first epoch retries and reports it.
        do {
            try await ledger.rebuild()
        } catch {
            logger.error("could not rebuild the windows from state.db", metadata: ["error": .string("\(error)")])
        }
        let clock = self.clock
        let startedAt = clock.now()
        await compute(.startup)
        await withDiscardingTaskGroup { group in
            let ranker = self.ranker
            let ledger = self.ledger
            let storage = self.storage
            let logger = self.logger
            if let coldStart {
                group.addTask { await Self.awaitFirstRound(coldStart, ranker: ranker, clock: clock, logger: logger) }
            }
            // Scheduled epochs; at the warm-up interval while evidence is thin (an enabled endpoint
            // below minimum_samples) in the first minutes, so what the probes and the first live
            // requests teach reaches the shares in seconds, not at the first 5-minute epoch.
            group.addTask { [routing, intervalSeconds] in
                while !Task.isCancelled {
                    // Only an interval shorter than the schedule is a warm-up (the demo's 10 s
                    // epochs stay `scheduled`).
                    let warmingUp =
                        routing.warmupIntervalSeconds > 0 && routing.warmupIntervalSeconds < intervalSeconds
                        && clock.now().seconds(since: startedAt) < routing.warmupSeconds
                        && (ranker.holder.epoch?.models.contains { $0.endpoints.contains { $0.status == .insufficientData } } ?? true)
                    let wait = warmingUp ? routing.warmupIntervalSeconds : intervalSeconds
                    do { try await clock.sleep(seconds: wait) } catch { return }
                    ranker.requestEpoch(warmingUp ? .warmup : .scheduled)
                }
            }
            // Failure outliers between epochs (live traffic breaking tool calls shows within seconds).
            if outlierCheckSeconds > 0 {
                group.addTask { await repeatEvery(outlierCheckSeconds, clock: clock) { _ in await ranker.checkOutliersBetweenEpochs() } }
            }
            // An override ends at its expiry, and a lowered share (slow, rate-limited) when its
            // limit does, not at the next scheduled epoch.
            group.addTask {
                await repeatEvery(1, clock: clock) { _ in
                    if await ranker.overrideExpiryDue() { ranker.requestEpoch(.override) }
                    if await ranker.shareLimitEnded() { ranker.requestEpoch(.fastPath) }
                }
            }
            // Flush every flush interval; fold the journal at every foldEvery-th flush.
            let foldEvery = max(1, Int((foldIntervalSeconds / flushIntervalSeconds).rounded()))
            group.addTask {
                await repeatEvery(flushIntervalSeconds, clock: clock) { tick in
                    do {
                        try await ledger.flush()
                        if tick % foldEvery == 0 { try await ledger.foldJournal() }
                        storage.succeeded("buckets")
                    } catch {
                        // Kept in memory and written at the next flush that succeeds.
                        logger.error("could not write minute buckets", metadata: ["error": .string("\(error)")])
                        storage.failed("buckets", error)
                    }
                }
            }
            // Epochs out of schedule (fast path, outlier checks, overrides) at most once per
            // `min_unscheduled_epoch_seconds`: requests meanwhile coalesce into the next one.
            var lastUnscheduled: Timestamp?
            for await trigger in ranker.triggers.cancelOnGracefulShutdown() {
                if trigger != .scheduled && trigger != .warmup {
                    if let last = lastUnscheduled, clock.now().seconds(since: last) < routing.minUnscheduledEpochSeconds {
                        try? await clock.sleep(until: last.adding(seconds: routing.minUnscheduledEpochSeconds))
                    }
                    lastUnscheduled = clock.now()
                }
                await compute(trigger)
            }
            group.cancelAll()
        }
        do {
            // Not cancelled with this task: at a graceful shutdown the service's task is
            // cancelled, and GRDB's async write of the journal fold refuses a cancelled task
            // (CancellationError): every shutdown logged an error and left the fold to the next start.
            let ledger = self.ledger
            try await Task.detached {
                try await ledger.flush()
                try await ledger.foldJournal()
            }.value
        } catch {
            logger.error("could not flush minute buckets at shutdown", metadata: ["error": .string("\(error)")])
        }
        logger.info("epoch loop stopped")
    }

    /// Waits for the first probe round (bounded by the cold-start deadline), then asks for the
    /// first informed epoch.
    static func awaitFirstRound(_ coldStart: ColdStart, ranker: Ranker, clock: any WallClock, logger: Logger) async {
        let snapshot = coldStart.snapshot
        guard snapshot.phase == .firstProbeRound else { return }
        logger.info(
            "cold start: waiting for the first probe round",
            metadata: ["endpoints": .stringConvertible(snapshot.endpoints), "deadline": .string(RFC3339.format(snapshot.deadline))])
        let deadline = snapshot.deadline
        let complete = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await coldStart.firstRoundComplete()
                return !Task.isCancelled
            }
            group.addTask {
                try? await clock.sleep(until: deadline)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard !Task.isCancelled else { return }
        let probed = coldStart.snapshot
        logger.info(
            complete ? "cold start: first probe round complete" : "cold start: bound reached before the first probe round completed",
            metadata: ["probed": .stringConvertible(probed.probed), "endpoints": .stringConvertible(probed.endpoints)])
        coldStart.requestInformedEpoch()
        ranker.requestEpoch(.coldStart)
    }

    private func compute(_ trigger: EpochTrigger) async {
        // A failed epoch is logged and counted by the ranker; the previous one keeps being served.
        guard let epoch = try? await ranker.computeAndPublish(trigger) else { return }
        if let coldStart, coldStart.published(epochID: epoch.id) {
            logger.info("cold start: first informed epoch published", metadata: ["epoch_id": .stringConvertible(epoch.id)])
        }
    }
}
