import Foundation
import Logging
import RankdCluster
import RankdCore
import RankdProber
import RankdServer
import RankdStore
import ServiceLifecycle
import Synchronization

/// One replica of a cluster on PostgreSQL (`storage.postgres`; docs/ha.md). Every replica:
/// appends the telemetry it accepts to the shared log (`LogAppender`), counts every log row (its
/// own and the others') into its own `state.db` and windows through the local ingest pipeline,
/// reports itself, and serves reads. The one holding the leader lock also computes and publishes
/// epochs (each written to PostgreSQL first, through the lock's session) and runs the prober;
/// the others serve the epochs it publishes, written to their own `rankings.db`.
final class ClusterNode: Service, Sendable {
    let database: ClusterDatabase
    let lock: LeaderLock
    let listener: ClusterListener
    let appender: LogAppender
    let status: ClusterStatus
    let ranker: Ranker
    let pipeline: IngestPipeline
    let prober: ProbeScheduler?
    let replica: String
    let advertiseURL: String?
    let cursorFile: String
    let policy: Policy
    let epochHistorySeconds: Double
    let logger: Logger
    let startedAt = Date().timeIntervalSince1970
    /// The last log row counted here (its rows are in the local pipeline's hands).
    private let cursor = Mutex<Int64>(0)
    private let tailed = Wake()
    private let proberTask = Mutex<Task<Void, Never>?>(nil)
    /// Seconds between the lock and epoch checks (and the log's poll when no notification comes).
    static let pollSeconds = 1.0

    init(
        database: ClusterDatabase, lock: LeaderLock, listener: ClusterListener, appender: LogAppender, status: ClusterStatus, ranker: Ranker,
        pipeline: IngestPipeline, prober: ProbeScheduler?, replica: String, advertiseURL: String?, dataDirectory: String, policy: Policy,
        epochHistorySeconds: Double, logger: Logger
    ) {
        self.database = database
        self.lock = lock
        self.listener = listener
        self.appender = appender
        self.status = status
        self.ranker = ranker
        self.pipeline = pipeline
        self.prober = prober
        self.replica = replica
        self.advertiseURL = advertiseURL
        cursorFile = "\(dataDirectory)/cluster-cursor"
        self.policy = policy
        self.epochHistorySeconds = epochHistorySeconds
        self.logger = logger
    }

    func run() async throws {
        // Detached: the client's run stops itself at a graceful shutdown it can see, and the pool
        // must outlive the appender's last appends; it is cancelled last, below.
        let pool = Task.detached { [database] in await database.run() }
        let listening = Task { await listener.run() }
        let appending = Task { await appender.run() }
        let work = Task { await self.work() }
        try? await gracefulShutdown()
        // Leadership first, so another replica takes over at once; then what was accepted is
        // appended; the pool last.
        stopProber()
        work.cancel()
        await work.value
        await lock.release()
        status.update { $0.role = .follower; $0.term = nil }
        appending.cancel()
        await appending.value
        listening.cancel()
        pool.cancel()
        await listening.value
        await pool.value
        logger.info("cluster replica stopped", metadata: ["replica": .string(replica)])
    }

    /// The refusal a follower gives, naming the leader as last reported (no call to PostgreSQL:
    /// the epoch loop asks on every follower epoch).
    func notLeader() async -> NotLeader {
        let snapshot = status.snapshot
        return NotLeader(leader: snapshot.leader, leaderURL: snapshot.leaderURL)
    }

    /// The leader's write of an epoch to PostgreSQL (the fence before it is published here).
    func fence(_ epoch: Epoch, demotions: [String: DemotionState], admin: EpochTransfer.AdminState) async throws {
        let body = try EpochTransfer.body(epoch)
        try await lock.publish(
            ClusterDatabase.StoredEpoch(
                id: epoch.id, term: 0, contentHash: FNV1a.hexDigest(body), body: body, demotions: try EpochTransfer.demotions(demotions),
                admin: try EpochTransfer.admin(admin)),
            computedAt: epoch.computedAt.secondsSince1970)
    }

    // MARK: The loops

    private func work() async {
        // The pool serves once its run loop has started (a lease before that is logged as a misuse).
        try? await Task.sleep(for: .milliseconds(100))
        while !Task.isCancelled {
            do {
                try await database.migrate()
                break
            } catch {
                status.update { $0.databaseReachable = false }
                logger.error("cannot prepare the PostgreSQL schema; retrying", metadata: ["error": .string("\(error)")])
                try? await Task.sleep(for: .seconds(2))
            }
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.tail() }
            group.addTask { await self.control() }
            group.addTask { await self.report() }
        }
    }

    /// Counts every log row, in order, into this replica's windows and `state.db` (through the
    /// local ingest pipeline, whose dedupe keys make a row fed twice after a crash count once).
    /// The position is saved after each step, with the database it belongs to.
    private func tail() async {
        var position = loadCursor()
        cursor.withLock { $0 = position.seq }
        while !Task.isCancelled {
            do {
                let id = try await database.clusterID()
                if id != position.cluster {
                    if position.cluster != nil {
                        logger.warning("a different PostgreSQL database than last time: reading its log from the start")
                    }
                    position = (id, 0)
                    cursor.withLock { $0 = 0 }
                }
                let rows = try await database.log(after: position.seq)
                status.update { $0.databaseReachable = true }
                if rows.isEmpty {
                    status.update { $0.logLag = 0 }
                    await listener.logWake.wait(seconds: Self.pollSeconds)
                    continue
                }
                try await count(rows)
                position.seq = rows.last!.seq
                saveCursor(position)
                cursor.withLock { $0 = position.seq }
                tailed.ring()
                if rows.count >= 64 {
                    let head = try await database.newestSeq()
                    status.update { $0.logLag = max(0, head - position.seq) }
                }
            } catch {
                if Task.isCancelled { return }
                status.update { $0.databaseReachable = false }
                logger.warning("cannot read the shared log; retrying", metadata: ["error": .string("\(error)")])
                try? await Task.sleep(for: .seconds(Self.pollSeconds))
            }
        }
    }

    /// Live rows through the local pipeline (all at once, so its commits and counting overlap),
    /// probe rows straight to the ranker.
    private func count(_ rows: [ClusterDatabase.LogRow]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for row in rows where row.kind == .live {
                group.addTask { try await self.submitLocally(row.records) }
            }
            try await group.waitForAll()
        }
        for row in rows where row.kind == .probe {
            await ranker.record(row.records.map(\.observation))
        }
    }

    private func submitLocally(_ records: [(requestID: String, observation: Observation)]) async throws {
        while true {
            do {
                _ = try await pipeline.submit(records)
                return
            } catch IngestRefusal.queueFull {
                try await Task.sleep(for: .milliseconds(50))
            } catch IngestRefusal.storage(let detail) {
                logger.error("log rows not counted here: state.db refuses them; retrying", metadata: ["error": .string(detail)])
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Leadership and epochs: the leader checks it still holds the lock; a follower serves the
    /// epochs the leader wrote and takes the lock when it is free.
    private func control() async {
        var failures = 0
        while !Task.isCancelled {
            if status.isLeader {
                if await !lock.stillHeld() { stepDown() }
            } else {
                do {
                    try await adoptNewEpochs()
                    if let term = try await lock.tryAcquire() {
                        await promote(term: term)
                    } else {
                        let leader = try await database.leader()?.replica
                        status.update { $0.leader = leader }
                    }
                    failures = 0
                } catch {
                    if Task.isCancelled { return }
                    status.update { $0.databaseReachable = false }
                    // A follower that cannot serve the leader's epochs does not take the lock
                    // either: said at once, then once a minute while it lasts.
                    if failures % 60 == 0 {
                        logger.error(
                            "cannot follow the cluster's epochs (this replica neither serves new epochs nor leads until this clears)",
                            metadata: ["error": .string("\(error)"), "failures": .stringConvertible(failures + 1)])
                    }
                    failures += 1
                }
            }
            await listener.epochWake.wait(seconds: Self.pollSeconds)
        }
    }

    private func adoptNewEpochs() async throws {
        while true {
            let served = ranker.holder.epoch?.id ?? 0
            let stored = try await database.epochs(after: served)
            status.update {
                $0.epochsBehind = Int64(stored.count)
                $0.databaseReachable = true
            }
            if stored.isEmpty { return }
            for row in stored {
                let source = "PostgreSQL rankd_epochs id \(row.id)"
                let epoch = try EpochTransfer.epoch(body: row.body, source: source)
                try await ranker.adopt(
                    epoch, demotions: try EpochTransfer.demotions(json: row.demotions, source: source),
                    admin: try EpochTransfer.admin(json: row.admin, source: source))
            }
        }
    }

    private func promote(term: Int64) async {
        let started = ContinuousClock.now
        do {
            // Everything accepted before the lock changed hands is counted before the first epoch.
            let head = try await database.newestSeq()
            let deadline = ContinuousClock.now + .seconds(5)
            while cursor.withLock({ $0 }) < head && ContinuousClock.now < deadline {
                await tailed.wait(seconds: 0.1)
            }
            try await adoptNewEpochs()
            try await ranker.assumeLeadership()
        } catch {
            logger.error("could not take over as leader; giving the lock up", metadata: ["error": .string("\(error)")])
            await lock.release()
            return
        }
        status.update {
            $0.role = .leader
            $0.term = term
            $0.epochsBehind = 0
        }
        startProber()
        logger.notice(
            "this replica is the leader",
            metadata: [
                "replica": .string(replica), "term": .stringConvertible(term),
                "catch_up_ms": .stringConvertible((ContinuousClock.now - started).milliseconds),
            ])
        ranker.requestEpoch(.leader)
    }

    private func stepDown() {
        stopProber()
        status.update {
            $0.role = .follower
            $0.term = nil
        }
        logger.warning("this replica is no longer the leader: it stops publishing and probing", metadata: ["replica": .string(replica)])
    }

    private func startProber() {
        guard let prober else { return }
        let task = Task { _ = try? await prober.run() }
        proberTask.withLock { $0 = task }
    }

    private func stopProber() {
        proberTask.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    /// Reports this replica every 5 s; the leader prunes what no replica needs any more every minute.
    private func report() async {
        var tick = 0
        while !Task.isCancelled {
            let snapshot = status.snapshot
            do {
                try await database.heartbeat(
                    name: replica, role: snapshot.role.rawValue, epochID: ranker.holder.epoch?.id, logLag: snapshot.logLag, url: advertiseURL,
                    startedAt: startedAt)
                let leader = try await database.leader()?.replica
                let url = try await database.replicas(seenWithin: 60).first { $0.name == leader }?.url
                status.update {
                    $0.leader = leader
                    $0.leaderURL = url
                }
                if snapshot.role == .leader && tick % 12 == 0 {
                    let now = Date().timeIntervalSince1970
                    let dropped = try await database.prune(
                        // The log keeps the long window (and an hour): a new replica rebuilds its windows from it.
                        logSeconds: policy.windows.longSeconds + 3_600,
                        keysBeforeMinute: Timestamp(secondsSince1970: now - policy.ingest.dedupeWindowSeconds).minute,
                        epochSeconds: epochHistorySeconds)
                    if dropped > 0 { logger.debug("shared log pruned", metadata: ["rows": .stringConvertible(dropped)]) }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("cluster report failed", metadata: ["error": .string("\(error)")])
            }
            tick += 1
            try? await Task.sleep(for: .seconds(5))
        }
    }

    // MARK: The log position

    private func loadCursor() -> (cluster: String?, seq: Int64) {
        guard let text = try? String(contentsOfFile: cursorFile, encoding: .utf8) else { return (nil, 0) }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let seq = Int64(parts[1]) else {
            logger.warning("cluster-cursor unreadable: reading the shared log from the start", metadata: ["file": .string(cursorFile)])
            return (nil, 0)
        }
        return (String(parts[0]), seq)
    }

    private func saveCursor(_ position: (cluster: String?, seq: Int64)) {
        guard let cluster = position.cluster else { return }
        do {
            // Written whole, then renamed over the old one: a crash leaves one or the other.
            try "\(cluster) \(position.seq)\n".write(toFile: cursorFile + ".tmp", atomically: false, encoding: .utf8)
            _ = rename(cursorFile + ".tmp", cursorFile)
        } catch {
            logger.error("cannot save the shared log position", metadata: ["file": .string(cursorFile), "error": .string("\(error)")])
        }
    }
}
