import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif
import RankdConfig
import RankdCore
import RankdPlatform
import RankdServer
import RankdStore

/// Publishes computed epochs: history and demotion memory in `state.db`, the reader file
/// `rankings.db`, the hour roll-up and pruning, then the in-memory epoch the API serves.
///
/// It is its own actor so this work (JSON encoding and SQLite writes: seconds at 20,000 endpoints)
/// runs while the `Ranker` goes on recording observations. Epochs are published in id order: one
/// that arrives after a newer one (an override racing the epoch loop) is kept in history only.
actor EpochPublisher {
    let history: EpochHistory
    /// For the minute buckets' roll-up and pruning (the windows' past is the ledger's).
    let ledger: WindowLedger
    let published: PublishedStore
    let holder: EpochHolder
    let metrics: RankdMetrics
    let retention: RankdConfiguration.Retention
    let dataDirectory: String
    let logger: Logger
    private var newestPublishedID: Int64
    /// Where the blocking work runs, one epoch at a time in arrival order.
    private let queue = DispatchQueue(label: "rankd.epoch-publisher")

    init(
        history: EpochHistory, ledger: WindowLedger, published: PublishedStore, holder: EpochHolder, metrics: RankdMetrics, retention: RankdConfiguration.Retention,
        dataDirectory: String, newestPublishedID: Int64, logger: Logger
    ) {
        self.history = history
        self.ledger = ledger
        self.published = published
        self.holder = holder
        self.metrics = metrics
        self.retention = retention
        self.dataDirectory = dataDirectory
        self.newestPublishedID = newestPublishedID
        self.logger = logger
    }

    /// One computed epoch and what its publication needs.
    struct Computed: Sendable {
        var epoch: Epoch
        var trigger: EpochTrigger
        var now: Timestamp
        /// Endpoints demoted before the epoch (for the demoted and recovered log lines).
        var demotedBefore: Set<String>
        /// Demotion memory after the epoch (endpoints with none are absent).
        var demotionsAfter: [String: DemotionState]
        var endpoints: [Endpoint]
        /// First minute of the short window: the hour roll-up stops before it.
        var shortWindowStartMinute: Int64
        /// Buckets from this minute on are kept whatever the retention: the windows read them back
        /// when they leave (the first span of the long window, and an hour more).
        var keepBucketsFromMinute: Int64? = nil
        var started: ContinuousClock.Instant
        /// A cluster's leader writes the epoch to PostgreSQL first: if that fails (the lock is
        /// lost), the epoch is not published here either.
        var fence: (@Sendable () async throws -> Void)? = nil
        /// A follower serving the leader's epoch (logged as such; not counted as computed here).
        var adopted = false
    }

    /// Writes and installs an epoch. On a storage error the previous epoch keeps being served,
    /// the data directory is marked failing and the error is thrown.
    ///
    /// The writes and the encoding run on the publisher's own serial queue, not on a Swift
    /// concurrency thread: seconds of SQLite commits (each an fsync) and JSON encoding would
    /// otherwise hold one of the few threads every task of the process shares.
    func publish(_ computed: Computed) async throws {
        let epoch = computed.epoch
        let newest = epoch.id > newestPublishedID
        // Claimed before the wait, so an older epoch arriving meanwhile is kept in history only.
        let previousNewest = newestPublishedID
        if newest { newestPublishedID = epoch.id }
        if newest, let fence = computed.fence {
            do {
                try await fence()
            } catch {
                // Not published anywhere: the next leader may publish this id itself.
                if newestPublishedID == epoch.id { newestPublishedID = previousNewest }
                metrics.publishFailure()
                throw error
            }
        }
        let (history, ledger, published, holder, retention) = (self.history, self.ledger, self.published, self.holder, self.retention)
        do {
            try await Self.onQueue(queue) {
                if newest {
                    try history.save(epoch, demotions: computed.demotionsAfter)
                    try published.publish(
                        epoch, endpoints: computed.endpoints, at: computed.now, retentionSeconds: retention.publishedEpochsHours * 3600)
                    // Upkeep at the regular epochs only, so a fast-path or override epoch (an
                    // endpoint just broke) is published with no more writes than it needs: minutes
                    // the short window no longer needs are rolled up into hours (the next start-up
                    // reads ~24 rows per endpoint for the long window), and what is past retention goes.
                    if computed.trigger == .scheduled || computed.trigger == .startup {
                        // Never a bucket the windows will still read back as it leaves them.
                        let cut = min(
                            computed.now.adding(seconds: -retention.minuteBucketsHours * 3600).minute, computed.keepBucketsFromMinute ?? .max)
                        try ledger.rollUpAndPrune(rollUpBefore: computed.shortWindowStartMinute, pruneBefore: cut)
                        try history.prune(now: computed.now, retentionSeconds: retention.epochHistoryDays * 86_400)
                    }
                    try holder.publish(epoch)
                    // Encoding an epoch's bodies and history takes tens of MB for a moment at
                    // 20,000 endpoints; glibc keeps the freed pages of its thread arenas unless
                    // asked, so resident memory would stay at the largest epoch's high-water mark.
                    Malloc.returnFreedMemory()
                } else {
                    try history.saveHistoryOnly(epoch)
                }
            }
        } catch {
            metrics.publishFailure()
            logger.error("epoch not published", metadata: ["epoch_id": .stringConvertible(epoch.id), "error": .string("\(error)")])
            markFailed(error)
            throw error
        }
        if holder.storage.succeeded("epoch") {
            logger.notice("data directory writable again: epochs are kept and published", metadata: ["data_dir": .string(dataDirectory)])
        }
        guard newest else {
            logger.info("epoch kept in history only: a newer one was published first", metadata: ["epoch_id": .stringConvertible(epoch.id)])
            return
        }
        logChanges(computed)
        let duration = ContinuousClock.now - computed.started
        if !computed.adopted { metrics.epochComputed(trigger: computed.trigger.rawValue, duration: duration) }
        metrics.currentEpoch(epoch)
        logger.info(
            computed.adopted ? "epoch served from the leader" : "epoch published",
            metadata: [
                "epoch_id": .stringConvertible(epoch.id), "trigger": .string(computed.trigger.rawValue),
                "endpoints": .stringConvertible(epoch.models.reduce(0) { $0 + $1.endpoints.count }),
                "duration_ms": .stringConvertible(duration.milliseconds),
            ])
    }

    /// Runs `work` on `queue` and waits for it without holding a concurrency thread.
    static func onQueue(_ queue: DispatchQueue, _ work: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                do {
                    try work()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }


    /// Marks the data directory failing for epochs (logged once, critically).
    func markFailed(_ error: any Error) {
        if holder.storage.failed("epoch", error) {
            logger.critical(
                "cannot write the data directory (full, read-only or failing?): epochs are not kept, /readyz is false; rankd keeps serving the last epoch from memory and retries at every epoch",
                metadata: ["data_dir": .string(dataDirectory), "error": .string("\(error)")])
        }
    }

    private func logChanges(_ computed: Computed) {
        let before = computed.demotedBefore
        for model in computed.epoch.models {
            for entry in model.endpoints where entry.status == .demoted && !before.contains(entry.endpointID) {
                for reason in entry.reasons { metrics.demotion(reason: reason) }
                logger.warning(
                    "endpoint demoted",
                    metadata: [
                        "endpoint_id": .string(entry.endpointID), "reasons": .string(entry.reasons.joined(separator: ",")),
                        "until": .string(entry.demotedUntil.map(RFC3339.format) ?? "-"),
                    ])
            }
        }
        for id in before where computed.demotionsAfter[id]?.isDemoted != true {
            logger.notice("endpoint recovered", metadata: ["endpoint_id": .string(id)])
        }
    }
}
