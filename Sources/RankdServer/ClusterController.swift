import Foundation
import HTTPTypes
import Hummingbird
import RankdCore
import Synchronization

/// This replica's place in a cluster on PostgreSQL (`storage.postgres`), as `/readyz`,
/// `/metrics` and `GET /v1/cluster` report it. A single node is its own leader.
public final class ClusterStatus: Sendable {
    public enum Role: String, Sendable {
        /// No PostgreSQL: the one node computes and serves.
        case single
        /// Holds the leader lock: computes and publishes epochs, runs the prober.
        case leader
        /// Accepts telemetry and serves reads; learns epochs from the leader.
        case follower
    }

    public struct Snapshot: Sendable, Equatable {
        public var replica: String
        public var role: Role
        /// The term this replica leads (leader only).
        public var term: Int64?
        /// Log rows accepted by any replica and not yet counted here.
        public var logLag: Int64 = 0
        /// Epochs published in PostgreSQL that this replica does not serve yet.
        public var epochsBehind: Int64 = 0
        /// Whether PostgreSQL answered this replica's last call.
        public var databaseReachable = true
        /// The leader as last recorded in PostgreSQL (refreshed with each report), for a follower's 421.
        public var leader: String?
        public var leaderURL: String?
    }

    private let state: Mutex<Snapshot>
    let metrics: RankdMetrics?

    public init(replica: String, role: Role, metrics: RankdMetrics? = nil) {
        state = Mutex(Snapshot(replica: replica, role: role))
        self.metrics = metrics
        metrics?.clusterRole(leader: role != .follower)
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
    public var isLeader: Bool { state.withLock { $0.role != .follower } }

    public func update(_ change: (inout Snapshot) -> Void) {
        let after = state.withLock { snapshot in
            change(&snapshot)
            return snapshot
        }
        metrics?.clusterRole(leader: after.role != .follower)
        metrics?.clusterLag(logRows: after.logLag, epochs: after.epochsBehind)
    }
}

/// Refused on a follower: what only the leader does (overrides, benchmark uploads, recompute,
/// reload's epoch). 421 (Misdirected Request) with the leader's name and address when known.
public struct NotLeader: HTTPResponseError {
    public var leader: String?
    public var leaderURL: String?

    public init(leader: String?, leaderURL: String?) {
        self.leader = leader
        self.leaderURL = leaderURL
    }

    public var status: HTTPResponse.Status { .misdirectedRequest }

    struct Body: Encodable {
        var error: JSONResponse.ErrorBody.Detail
        var leader: String?
        var leaderURL: String?

        enum CodingKeys: String, CodingKey {
            case error, leader
            case leaderURL = "leader_url"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.encode(
            Body(
                error: .init(
                    code: "not_leader",
                    message: "this replica is a follower: send the request to the leader (GET /v1/cluster names it), or retry"),
                leader: leader, leaderURL: leaderURL),
            status: status)
    }
}

/// What `GET /v1/cluster` lists.
public struct ClusterSource: Sendable {
    public struct Replica: Sendable, Encodable {
        public var name: String
        public var role: String
        public var epochID: Int64?
        public var logLag: Int64
        public var url: String?
        public var startedAt: String
        public var seenAt: String

        public init(name: String, role: String, epochID: Int64?, logLag: Int64, url: String?, startedAt: String, seenAt: String) {
            self.name = name
            self.role = role
            self.epochID = epochID
            self.logLag = logLag
            self.url = url
            self.startedAt = startedAt
            self.seenAt = seenAt
        }

        enum CodingKeys: String, CodingKey {
            case name, role, url
            case epochID = "epoch_id"
            case logLag = "log_lag"
            case startedAt = "started_at"
            case seenAt = "seen_at"
        }
    }

    public var status: ClusterStatus
    /// Replicas seen in the last minute, from PostgreSQL; nil for a single node.
    public var replicas: (@Sendable () async throws -> [Replica])?

    public init(status: ClusterStatus, replicas: (@Sendable () async throws -> [Replica])?) {
        self.status = status
        self.replicas = replicas
    }
}

/// `GET /v1/cluster`: this replica's role and the replicas seen in the last minute.
struct ClusterController<Context: RequestContext>: Sendable {
    let source: ClusterSource
    let holder: EpochHolder

    struct Answer: Encodable {
        var mode: String
        var replica: String
        var role: String
        var term: Int64?
        var epochID: Int64?
        var logLag: Int64
        var epochsBehind: Int64
        var replicas: [ClusterSource.Replica]

        enum CodingKeys: String, CodingKey {
            case mode, replica, role, term, replicas
            case epochID = "epoch_id"
            case logLag = "log_lag"
            case epochsBehind = "epochs_behind"
        }
    }

    var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("cluster") { _, _ in
            let status = source.status.snapshot
            var replicas: [ClusterSource.Replica] = []
            if let list = source.replicas {
                do {
                    replicas = try await list()
                } catch {
                    return JSONResponse.error(
                        .serviceUnavailable, code: "database_unavailable",
                        "PostgreSQL did not answer, so the replicas cannot be listed; this replica keeps serving reads (\(error))")
                }
            }
            return JSONResponse.encode(
                Answer(
                    mode: source.replicas == nil ? "single" : "postgres", replica: status.replica, role: status.role.rawValue, term: status.term,
                    epochID: holder.epoch?.id, logLag: status.logLag, epochsBehind: status.epochsBehind, replicas: replicas))
        }
        return routes
    }
}
