import Foundation
import Logging
import RankdCluster
import RankdCore
import RankdServer
import ServiceLifecycle
import Synchronization

/// Telemetry accepted by this replica, on its way to PostgreSQL's shared log: a bounded queue in
/// front of one writer that appends whatever is waiting in one transaction (group commit) and
/// only then acknowledges, so a 2xx means durable in PostgreSQL. A full queue refuses at once;
/// with PostgreSQL away every waiting batch is refused (503) and nothing is acknowledged.
final class LogAppender: Sendable {
    typealias Pending = IngestPipeline.Pending

    struct State {
        var pending: [Pending] = []
        var queuedRecords = 0
        var stopped = false
        /// The last append failed and no ping has succeeded since: batches are refused at once
        /// rather than each waiting out the time bound.
        var databaseDown = false
    }

    let database: ClusterDatabase
    let replica: String
    let metrics: RankdMetrics
    let logger: Logger
    let capacity: Int
    let maxGroup: Int
    private let state = Mutex(State())
    private let wake = Wake()

    init(database: ClusterDatabase, replica: String, metrics: RankdMetrics, capacity: Int, maxGroup: Int = 20_000, logger: Logger) {
        self.database = database
        self.replica = replica
        self.metrics = metrics
        self.capacity = capacity
        self.maxGroup = maxGroup
        self.logger = logger
    }

    /// Queues records and returns once PostgreSQL committed them (or throws `IngestRefusal`).
    func submit(_ records: [(requestID: String, observation: Observation)]) async throws -> IngestCommitted {
        guard !records.isEmpty else { return IngestCommitted() }
        let fresh: [Bool] = try await withCheckedThrowingContinuation { continuation in
            let refusal: IngestRefusal? = state.withLock { state in
                if state.stopped { return .stopped }
                if state.databaseDown { return .database("PostgreSQL is unavailable") }
                if state.queuedRecords > 0 && state.queuedRecords + records.count > capacity { return .queueFull }
                state.pending.append(Pending(records: records, continuation: continuation))
                state.queuedRecords += records.count
                return nil
            }
            if let refusal { continuation.resume(throwing: refusal) } else { wake.ring() }
        }
        var committed = IngestCommitted()
        for isNew in fresh { if isNew { committed.accepted += 1 } else { committed.duplicates += 1 } }
        return committed
    }

    /// PostgreSQL looks away (the listening session was lost): refuse until a ping answers.
    func markDown() {
        state.withLock { $0.databaseDown = true }
        wake.ring()
    }

    var nearlyFull: Bool { state.withLock { $0.queuedRecords >= capacity / 10 * 9 } }

    /// Appends until cancelled, then refuses new batches and finishes those queued. While the
    /// database is down, it is pinged twice a second and waiting batches are refused.
    func run() async {
        while !Task.isCancelled {
            if state.withLock({ $0.databaseDown }) {
                if await database.ping() {
                    state.withLock { $0.databaseDown = false }
                    logger.notice("PostgreSQL answers again: telemetry is appended and acknowledged")
                } else {
                    refuseWaiting()
                    try? await Task.sleep(for: .milliseconds(500))
                    continue
                }
            }
            await drain()
            await wake.wait(seconds: 0.5)
        }
        state.withLock { $0.stopped = true }
        await drain()
    }

    private func refuseWaiting() {
        let waiting = state.withLock { state in
            defer {
                state.pending = []
                state.queuedRecords = 0
            }
            return state.pending
        }
        for pending in waiting { pending.continuation.resume(throwing: IngestRefusal.database("PostgreSQL is unavailable")) }
    }

    private func drain() async {
        while true {
            let group = state.withLock { IngestPipeline.takeGroup(&$0.pending, maxGroup: maxGroup) }
            if group.isEmpty { return }
            let records = group.flatMap(\.records)
            let started = ContinuousClock.now
            do {
                let fresh = try await database.append(records, kind: .live, replica: replica)
                metrics.ingestCommit(duration: ContinuousClock.now - started, records: records.count)
                state.withLock { $0.queuedRecords -= records.count }
                var offset = 0
                for pending in group {
                    pending.continuation.resume(returning: Array(fresh[offset..<offset + pending.records.count]))
                    offset += pending.records.count
                }
            } catch {
                state.withLock {
                    $0.queuedRecords -= records.count
                    $0.databaseDown = true
                }
                logger.error(
                    "telemetry not written to PostgreSQL: refused with 503",
                    metadata: ["records": .stringConvertible(records.count), "error": .string("\(error)")])
                for pending in group { pending.continuation.resume(throwing: IngestRefusal.database("\(error)")) }
                refuseWaiting()
                return
            }
        }
    }
}
