import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// `/healthz` (the process answers), `/readyz` (an epoch is being served and the data directory
/// takes writes), `/metrics` (Prometheus).
public struct HealthController<Context: RequestContext>: Sendable {
    let holder: EpochHolder
    let metrics: RankdMetrics
    let coldStart: ColdStart?
    let cluster: ClusterStatus?

    public init(holder: EpochHolder, metrics: RankdMetrics, coldStart: ColdStart? = nil, cluster: ClusterStatus? = nil) {
        self.cluster = cluster
        self.holder = holder
        self.metrics = metrics
        self.coldStart = coldStart
    }

    struct Readiness: Encodable {
        var ready: Bool
        var epochID: Int64?
        var computedAt: String?
        /// Failing writes by kind, with the last error, while the data directory takes none.
        var storageErrors: [String: String]?
        /// The way to the first informed epoch (ready does not wait for it: the start-up epoch
        /// already spreads traffic evenly).
        var coldStart: ColdStartJSON?
        /// With `storage.postgres`: this replica's role and how far behind it is.
        var cluster: ClusterJSON?

        enum CodingKeys: String, CodingKey {
            case ready, cluster
            case coldStart = "cold_start"
            case epochID = "epoch_id"
            case computedAt = "computed_at"
            case storageErrors = "storage_errors"
        }
    }

    struct ClusterJSON: Encodable {
        var replica: String
        var role: String
        var term: Int64?
        var logLag: Int64
        var epochsBehind: Int64
        var databaseReachable: Bool

        init(_ snapshot: ClusterStatus.Snapshot) {
            replica = snapshot.replica
            role = snapshot.role.rawValue
            term = snapshot.term
            logLag = snapshot.logLag
            epochsBehind = snapshot.epochsBehind
            databaseReachable = snapshot.databaseReachable
        }

        enum CodingKeys: String, CodingKey {
            case replica, role, term
            case logLag = "log_lag"
            case epochsBehind = "epochs_behind"
            case databaseReachable = "database_reachable"
        }
    }

    struct ColdStartJSON: Encodable {
        var phase: String
        var probed: Int
        var endpoints: Int
        var deadline: String
        var informedEpochID: Int64?

        init(_ snapshot: ColdStart.Snapshot) {
            phase = snapshot.phase.rawValue
            probed = snapshot.probed
            endpoints = snapshot.endpoints
            deadline = RFC3339.format(snapshot.deadline)
            informedEpochID = snapshot.informedEpochID
        }

        enum CodingKeys: String, CodingKey {
            case phase, probed, endpoints, deadline
            case informedEpochID = "informed_epoch_id"
        }
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("healthz") { _, _ in JSONResponse.encode(["status": "ok"]) }
        routes.get("readyz") { _, _ in
            let coldStart = coldStart.map { ColdStartJSON($0.snapshot) }
            let clusterJSON = cluster.map { ClusterJSON($0.snapshot) }
            guard let epoch = holder.epoch else {
                return JSONResponse.encode(Readiness(ready: false, coldStart: coldStart, cluster: clusterJSON), status: .serviceUnavailable)
            }
            let problems = holder.storage.problems
            guard problems.isEmpty else {
                // Reads are still answered (from memory), but nothing new can be kept: not ready.
                return JSONResponse.encode(
                    Readiness(
                        ready: false, epochID: epoch.id, computedAt: RFC3339.format(epoch.computedAt), storageErrors: problems,
                        coldStart: coldStart, cluster: clusterJSON),
                    status: .serviceUnavailable)
            }
            return JSONResponse.encode(
                Readiness(
                    ready: true, epochID: epoch.id, computedAt: RFC3339.format(epoch.computedAt), coldStart: coldStart, cluster: clusterJSON))
        }
        routes.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        return routes
    }
}
