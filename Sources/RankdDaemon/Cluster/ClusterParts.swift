import Foundation
import Logging
import RankdCluster
import RankdConfig
import RankdCore
import RankdProber
import RankdServer

/// What a replica of a cluster is made of before the daemon's other parts exist: the database,
/// the leader lock, the listener, the log appender and the status the HTTP layer reports.
struct ClusterParts: Sendable {
    let database: ClusterDatabase
    let lock: LeaderLock
    let listener: ClusterListener
    let appender: LogAppender
    let status: ClusterStatus
    let replica: String
    let advertiseURL: String?
    let logger: Logger

    /// - Parameter queueRecords: `ingest.queue_records`: records waiting for PostgreSQL before batches get 429.
    init(
        address: PostgresAddress, settings: RankdConfiguration.Postgres, listenPort: Int, queueRecords: Int, metrics: RankdMetrics, logger: Logger
    ) {
        replica = settings.replicaName ?? "\(ProcessInfo.processInfo.hostName):\(listenPort)"
        var logger = logger
        logger[metadataKey: "replica"] = .string(replica)
        self.logger = logger
        advertiseURL = settings.advertiseURL
        database = ClusterDatabase(address: address, poolSize: settings.poolSize, logger: logger)
        lock = LeaderLock(address: address, replica: replica, logger: logger)
        let appender = LogAppender(database: database, replica: replica, metrics: metrics, capacity: queueRecords, logger: logger)
        self.appender = appender
        listener = ClusterListener(address: address, logger: logger, onLost: { appender.markDown() })
        status = ClusterStatus(replica: replica, role: .follower, metrics: metrics)
        logger.info("replica of a cluster on PostgreSQL", metadata: ["postgres": .string(address.description)])
    }

    var source: ClusterSource {
        ClusterSource(status: status) { [database] in
            try await database.replicas(seenWithin: 60).map {
                ClusterSource.Replica(
                    name: $0.name, role: $0.role, epochID: $0.epochID, logLag: $0.logLag, url: $0.url,
                    startedAt: RFC3339.format(Timestamp(secondsSince1970: $0.startedAt)),
                    seenAt: RFC3339.format(Timestamp(secondsSince1970: $0.seenAt)))
            }
        }
    }

    func recordProbe(_ observation: Observation) async {
        do {
            _ = try await database.append([("", observation)], kind: .probe, replica: replica)
        } catch {
            logger.warning(
                "probe result not written to PostgreSQL", metadata: ["endpoint_id": .string(observation.endpointID), "error": .string("\(error)")])
        }
    }

    func node(
        ranker: Ranker, pipeline: IngestPipeline, prober: ProbeScheduler?, dataDirectory: String, policy: Policy, epochHistorySeconds: Double
    ) -> ClusterNode {
        ClusterNode(
            database: database, lock: lock, listener: listener, appender: appender, status: status, ranker: ranker, pipeline: pipeline,
            prober: prober, replica: replica, advertiseURL: advertiseURL, dataDirectory: dataDirectory, policy: policy,
            epochHistorySeconds: epochHistorySeconds, logger: logger)
    }
}
