import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// Reads of the epoch history (kept in state.db by the daemon), injected so the HTTP layer does
/// not depend on the store.
public struct HistorySource: Sendable {
    /// Epochs computed in `since...until`, oldest first, at most `limit`.
    public var epochs: @Sendable (_ since: Timestamp, _ until: Timestamp?, _ limit: Int) async throws -> [Epoch]
    public var epoch: @Sendable (_ id: Int64) async throws -> Epoch?
    /// The policy an epoch's `policy_hash` names (JSON in the policy file's keys), and when it was first used.
    public var policy: @Sendable (_ hash: String) async throws -> (String, Timestamp)?

    public init(
        epochs: @escaping @Sendable (Timestamp, Timestamp?, Int) async throws -> [Epoch],
        epoch: @escaping @Sendable (Int64) async throws -> Epoch?,
        policy: @escaping @Sendable (String) async throws -> (String, Timestamp)? = { _ in nil }
    ) {
        self.epochs = epochs
        self.epoch = epoch
        self.policy = policy
    }
}

/// `GET /v1/policies/{hash}`: the policy an epoch was scored with (its JSON follows these keys).
struct PolicyRecord: Encodable {
    var hash: String
    var firstUsed: String

    enum CodingKeys: String, CodingKey {
        case hash
        case firstUsed = "first_used"
    }
}

/// `GET /v1/history`, `GET /v1/epochs`, `GET /v1/epochs/{id}`, `GET /v1/policies/{hash}`: how
/// and why ranks moved, and under which policy.
public struct HistoryController<Context: RequestContext>: Sendable {
    let source: HistorySource
    let clock: any WallClock
    /// Most epochs one answer carries.
    static var limit: Int { 2_000 }

    public init(source: HistorySource, clock: any WallClock) {
        self.source = source
        self.clock = clock
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("history") { request, _ in try await history(request) }
        routes.get("epochs") { request, _ in try await list(request) }
        routes.get("epochs/{id}") { _, context in
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return JSONResponse.error(.badRequest, code: "invalid_id", "the epoch id must be a whole number")
            }
            guard let epoch = try await source.epoch(id) else {
                return JSONResponse.error(
                    .notFound, code: "unknown_epoch", "no epoch \(id) in history (kept for retention.epoch_history_days)")
            }
            return JSONResponse.ok(try EpochJSON.all(epoch))
        }
        routes.get("policies/{hash}") { _, context in
            let hash = context.parameters.get("hash") ?? ""
            guard let (policy, firstUsed) = try await source.policy(hash), JSONValue.parse(policy)?.objectValue != nil else {
                return JSONResponse.error(
                    .notFound, code: "unknown_policy", "no policy \"\(hash)\" recorded; each epoch's policy_hash names one (GET /v1/epochs)")
            }
            // The stored JSON is placed as it is: it is the policy, in the file's keys.
            let head = String(decoding: try EpochJSON.encoder.encode(PolicyRecord(hash: hash, firstUsed: RFC3339.format(firstUsed))), as: UTF8.self)
            return JSONResponse.ok(Data((head.dropLast() + ",\"policy\":" + policy + "}").utf8))
        }
        return routes
    }

    /// `since`/`until` as RFC 3339; `since` defaults to 24 h ago. Errors name the parameter.
    enum Window {
        case valid(since: Timestamp, until: Timestamp?)
        case invalid(Response)
    }

    func window(_ request: Request) -> Window {
        let query = request.uri.queryParameters
        var since = clock.now().adding(seconds: -86_400)
        var until: Timestamp?
        if let text = query["since"] {
            guard let parsed = RFC3339.parse(String(text)) else {
                return .invalid(
                    JSONResponse.error(.badRequest, code: "invalid_since", "since must be an RFC 3339 time like 2026-11-25T06:00:00Z"))
            }
            since = parsed
        }
        if let text = query["until"] {
            guard let parsed = RFC3339.parse(String(text)) else {
                return .invalid(
                    JSONResponse.error(.badRequest, code: "invalid_until", "until must be an RFC 3339 time like 2026-11-25T07:00:00Z"))
            }
            until = parsed
        }
        return .valid(since: since, until: until)
    }

    func history(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        guard let model = query["model"].map(String.init), !model.isEmpty else {
            return JSONResponse.error(
                .badRequest, code: "missing_model", "give model, e.g. /v1/history?model=meta-llama/llama-3.3-70b-instruct")
        }
        let provider = query["provider"].map(String.init)
        let (since, until): (Timestamp, Timestamp?)
        switch window(request) {
        case .invalid(let response): return response
        case .valid(let from, let to): (since, until) = (from, to)
        }
        let epochs = try await source.epochs(since, until, Self.limit)
        let points = epochs.compactMap { epoch -> HistoryJSON.Point? in
            guard let ranking = epoch.ranking(for: model) else { return nil }
            let entries = ranking.endpoints.filter { provider == nil || $0.provider == provider || $0.endpointID == provider }
            return HistoryJSON.Point(
                epochID: epoch.id, computedAt: RFC3339.format(epoch.computedAt), trigger: epoch.trigger.rawValue,
                endpoints: entries.map(HistoryJSON.EndpointPoint.init))
        }
        return JSONResponse.encode(HistoryJSON.History(model: model, provider: provider, since: RFC3339.format(since), epochs: points))
    }

    func list(_ request: Request) async throws -> Response {
        let (since, until): (Timestamp, Timestamp?)
        switch window(request) {
        case .invalid(let response): return response
        case .valid(let from, let to): (since, until) = (from, to)
        }
        let epochs = try await source.epochs(since, until, Self.limit)
        return JSONResponse.encode(["epochs": epochs.map(EpochJSON.EpochHeader.init)])
    }
}

enum HistoryJSON {
    struct History: Encodable {
        var model: String
        var provider: String?
        var since: String
        var epochs: [Point]
    }

    struct Point: Encodable {
        var epochID: Int64
        var computedAt: String
        var trigger: String
        var endpoints: [EndpointPoint]

        enum CodingKeys: String, CodingKey {
            case trigger, endpoints
            case epochID = "epoch_id"
            case computedAt = "computed_at"
        }
    }

    struct EndpointPoint: Encodable {
        var endpointID: String
        var provider: String
        var rank: Int
        var score: Double
        var status: String
        var components: ComponentValues
        var reasons: [String]
        var override: OverrideJSON.Applied?
        var trafficShare: Double

        init(_ entry: EndpointRanking) {
            trafficShare = entry.trafficShare
            override = entry.override.map(OverrideJSON.Applied.init)
            endpointID = entry.endpointID
            provider = entry.provider
            rank = entry.rank
            score = entry.score
            status = entry.status.rawValue
            components = entry.components
            reasons = entry.reasons
        }

        enum CodingKeys: String, CodingKey {
            case provider, rank, score, status, components, reasons, override
            case endpointID = "endpoint_id"
            case trafficShare = "traffic_share"
        }
    }
}
