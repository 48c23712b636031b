import Foundation
import Logging
import RankdCore
import RankdServer
import RankdStore
import ServiceLifecycle
import Synchronization

/// Live telemetry from the HTTP handlers to `state.db` and the ranker: a bounded queue in front of
/// one writer that has the `WindowLedger` commit whatever is waiting in one transaction (group
/// commit), deduplicating by `request_id` in the same transaction, and only then acknowledges, so
/// a `2xx` means committed. It also keeps the dedupe keys within their window and cap.
/// A full queue refuses at once (the handler answers 429), so memory stays bounded.
public final class IngestPipeline: Service, Sendable {
    struct Pending {
        var records: [(requestID: String, observation: Observation)]
        var continuation: CheckedContinuation<[Bool], any Error>
    }

    struct State {
        var pending: [Pending] = []
        var queuedRecords = 0
        var stopped = false
        /// Request ids kept, per minute of their timestamps (mirrors `ingest_keys`).
        var keysPerMinute: [Int64: Int] = [:]
        /// Records stamped before this minute are refused: their ids may have been dropped.
        var horizonMinute: Int64 = .min
    }

    /// The dedupe keys' counts, horizon and pruning (the ledger commits them with their records).
    let dedupe: DedupeKeys
    let ledger: WindowLedger
    let ranker: Ranker
    let storage: StorageHealth
    let metrics: RankdMetrics
    let clock: any WallClock
    let rule: Policy.Ingest
    let logger: Logger
    /// Most records waiting for the writer.
    public let capacity: Int
    /// Most records one transaction takes.
    let maxGroup: Int
    private let state: Mutex<State>
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    public init(
        dedupe: DedupeKeys, ledger: WindowLedger, ranker: Ranker, storage: StorageHealth, metrics: RankdMetrics, clock: any WallClock,
        rule: Policy.Ingest, capacity: Int = 100_000, maxGroup: Int = 20_000, logger: Logger
    ) throws {
        self.dedupe = dedupe
        self.ledger = ledger
        self.ranker = ranker
        self.storage = storage
        self.metrics = metrics
        self.clock = clock
        self.rule = rule
        self.capacity = capacity
        self.maxGroup = maxGroup
        self.logger = logger
        state = Mutex(State(keysPerMinute: try dedupe.ingestKeyCounts(), horizonMinute: try dedupe.dedupeHorizon() ?? .min))
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The ingest rule in force now: the dedupe window shrinks if the key cap dropped old minutes.
    public func currentRule(now: Timestamp) -> Policy.Ingest {
        var current = rule
        let horizon = state.withLock { $0.horizonMinute }
        if horizon != .min {
            current.dedupeWindowSeconds = min(rule.dedupeWindowSeconds, max(0, now.secondsSince1970 - Double(horizon) * 60))
        }
        return current
    }

    /// Queues accepted records and returns once they are committed (or throws `IngestRefusal`).
    public func submit(_ records: [(requestID: String, observation: Observation)]) async throws -> IngestCommitted {
        guard !records.isEmpty else { return IngestCommitted() }
        let fresh: [Bool] = try await withCheckedThrowingContinuation { continuation in
            let refusal: IngestRefusal? = state.withLock { state in
                if state.stopped { return .stopped }
                if state.queuedRecords > 0 && state.queuedRecords + records.count > capacity { return .queueFull }
                state.pending.append(Pending(records: records, continuation: continuation))
                state.queuedRecords += records.count
                return nil
            }
            if let refusal {
                continuation.resume(throwing: refusal)
            } else {
                wake.yield()
            }
        }
        var committed = IngestCommitted()
        for isNew in fresh { if isNew { committed.accepted += 1 } else { committed.duplicates += 1 } }
        return committed
    }

    public var queuedRecords: Int { state.withLock { $0.queuedRecords } }

    /// At least 90% of `capacity` is queued: the HTTP layer refuses batches before reading them.
    /// (Below that, a batch that would overflow the queue is refused by `submit`, once decoded.)
    /// Under a sustained flood the queue stays near full, so the refusals cost a header check
    /// each, not a body read and decoded for nothing.
    public var nearlyFull: Bool { state.withLock { $0.queuedRecords >= capacity / 10 * 9 } }

    public func run() async throws {
        // Pruning runs beside the drain, not in its way: at start, then every 30 s, its deletes
        // queue on the store's writer in pieces, between the commits.
        let pruning = Task {
            await prune()
            await repeatEvery(30, clock: clock) { _ in await prune() }
        }
        for await _ in wakes.cancelOnGracefulShutdown() {
            await drain()
        }
        // Shutdown: refuse new work, finish what was accepted into the queue.
        state.withLock { $0.stopped = true }
        pruning.cancel()
        await drain()
        await pruning.value
        logger.info("ingest writer stopped")
    }

    /// Commits everything waiting, in groups of at most `maxGroup` records. A group is recorded
    /// by the ranker, then acknowledged, while the next one commits: the store's writer and the
    /// ranker work side by side, one group apart.
    func drain() async {
        var recording: Task<Void, Never>?
        while true {
            let group = state.withLock { Self.takeGroup(&$0.pending, maxGroup: maxGroup) }
            if group.isEmpty { break }
            recording = await commit(group, after: recording)
        }
        await recording?.value
    }

    /// Commits `group`, then waits until `previous` is recorded and returns the task that records
    /// this group and acknowledges it. So at most one committed group waits for the ranker while
    /// the next one commits (the ledger holds the ingest gate for each from commit to count).
    private func commit(_ group: [Pending], after previous: Task<Void, Never>?) async -> Task<Void, Never>? {
        let records = group.flatMap(\.records)
        let started = ContinuousClock.now
        let committed: WindowLedger.LiveGroup
        do {
            committed = try await ledger.commitLive(records)
        } catch {
            state.withLock { $0.queuedRecords -= records.count }
            logger.error("telemetry not committed", metadata: ["records": .stringConvertible(records.count), "error": .string("\(error)")])
            if storage.failed("telemetry", error) {
                logger.critical(
                    "cannot write state.db (disk full, read-only or failing?): telemetry is refused with 503 and nothing is acknowledged until a commit succeeds; /readyz is false",
                    metadata: ["error": .string("\(error)")])
            }
            for pending in group { pending.continuation.resume(throwing: IngestRefusal.storage("\(error)")) }
            return previous
        }
        if storage.succeeded("telemetry") {
            logger.notice("state.db writable again: telemetry is committed and acknowledged")
        }
        metrics.ingestCommit(duration: ContinuousClock.now - started, records: records.count)
        var perMinute: [Int64: Int] = [:]
        for observation in committed.accepted { perMinute[observation.time.minute, default: 0] += 1 }
        let (queued, keys) = state.withLock { state in
            state.queuedRecords -= records.count
            for (minute, count) in perMinute { state.keysPerMinute[minute, default: 0] += count }
            return (state.queuedRecords, state.keysPerMinute.values.reduce(0, +))
        }
        await previous?.value
        return Task { [ranker, metrics, clock] in
            await ranker.record(committed)
            metrics.ingestState(
                queuedRecords: queued, dedupeKeys: keys, dedupeWindowSeconds: currentRule(now: clock.now()).dedupeWindowSeconds)
            var offset = 0
            for pending in group {
                pending.continuation.resume(returning: Array(committed.fresh[offset..<offset + pending.records.count]))
                offset += pending.records.count
            }
        }
    }

    /// The batches at the front of `pending` that one transaction takes: at least one, and no more
    /// than `maxGroup` records unless the first alone is larger. (The cluster's log appender
    /// groups the same way.)
    static func takeGroup(_ pending: inout [Pending], maxGroup: Int) -> [Pending] {
        var taken: [Pending] = []
        var count = 0
        while let first = pending.first, taken.isEmpty || count + first.records.count <= maxGroup {
            taken.append(pending.removeFirst())
            count += first.records.count
        }
        return taken
    }

    /// Request ids one prune transaction deletes: a short hold of the store's writer, so a commit
    /// never waits behind a whole minute of ids.
    static let prunePiece = 200_000

    /// Drops request ids older than the dedupe window, then the oldest minutes while over the cap,
    /// `prunePiece` ids per transaction. Cancelled (at shutdown), it stops between pieces; what it
    /// did not delete, the next run's prune does.
    func prune(piece: Int = IngestPipeline.prunePiece) async {
        let now = clock.now()
        let windowStart = now.adding(seconds: -rule.dedupeWindowSeconds).minute
        let (cut, kept) = state.withLock { state -> (Int64, Int) in
            var cut = windowStart
            var total = state.keysPerMinute.filter { $0.key >= cut }.values.reduce(0, +)
            for minute in state.keysPerMinute.keys.sorted() where minute >= cut && total > rule.maxDedupeKeys {
                total -= state.keysPerMinute[minute] ?? 0
                cut = minute + 1
            }
            if cut > windowStart { state.horizonMinute = max(state.horizonMinute, cut) }
            return (cut, total)
        }
        do {
            // Durable before any id goes: a restart keeps refusing what can no longer be deduplicated.
            if cut > windowStart { try await dedupe.raiseDedupeHorizon(to: cut) }
            var deleted = 0
            while !Task.isCancelled {
                let removed = try await dedupe.pruneIngestKeys(before: cut, limit: piece)
                deleted += removed
                if removed < piece { break }
            }
            if Task.isCancelled { return }
            state.withLock { state in state.keysPerMinute = state.keysPerMinute.filter { $0.key >= cut } }
            if deleted > 0 {
                logger.debug("dedupe keys pruned", metadata: ["deleted": .stringConvertible(deleted), "kept": .stringConvertible(kept)])
            }
        } catch {
            // At shutdown the store refuses or interrupts the cancelled write: not an error.
            if Task.isCancelled { return }
            logger.error("could not prune dedupe keys", metadata: ["error": .string("\(error)")])
        }
    }
}
