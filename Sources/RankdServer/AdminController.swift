import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// `/v1/admin/*`, behind the admin bearer token. Off (403 with the fix) when no token is configured.
public struct AdminController<Context: RequestContext>: Sendable {
    let live: LiveSettings
    let recompute: @Sendable () async throws -> Epoch
    let reload: (@Sendable () async -> ReloadAnswer)?

    public init(
        live: LiveSettings, recompute: @escaping @Sendable () async throws -> Epoch, reload: (@Sendable () async -> ReloadAnswer)? = nil
    ) {
        self.live = live
        self.recompute = recompute
        self.reload = reload
    }

    struct Refused: Encodable {
        var error: JSONResponse.ErrorBody.Detail
        var problems: [String]
    }

    struct Recomputed: Encodable {
        var epoch: EpochJSON.EpochHeader
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.post("admin/recompute") { request, _ in
            if let denied = BearerToken.check(request, expected: live.adminToken, name: "tokens.admin") { return denied }
            let epoch = try await recompute()
            return JSONResponse.encode(Recomputed(epoch: .init(epoch)))
        }
        routes.post("admin/reload") { request, _ in
            if let denied = BearerToken.check(request, expected: live.adminToken, name: "tokens.admin") { return denied }
            guard let reload else {
                return JSONResponse.error(
                    .conflict, code: "no_configuration_file", "this server was not started from a configuration file: there is nothing to re-read")
            }
            switch await reload() {
            case .applied(let applied):
                return JSONResponse.encode(applied)
            case .refused(let problems):
                return JSONResponse.encode(
                    Refused(
                        error: .init(code: "invalid_configuration", message: "nothing changed: fix every problem listed, then reload again"),
                        problems: problems),
                    status: .unprocessableContent)
            }
        }
        return routes
    }
}

/// Bearer-token checks shared by the admin and ingest routes.
public enum BearerToken {
    /// Nil when the request carries the expected token; otherwise the response to send.
    public static func check(_ request: Request, expected: String?, name: String) -> Response? {
        guard let expected else {
            return JSONResponse.error(.forbidden, code: "disabled", "this API is off; set \(name) in the configuration to turn it on")
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            var response = JSONResponse.error(
                .unauthorized, code: "missing_token", "send Authorization: Bearer <token> (the token named by \(name))")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        let presented = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        guard constantTimeEquals(presented, expected) else {
            var response = JSONResponse.error(.unauthorized, code: "wrong_token", "the bearer token is not the one named by \(name)")
            response.headers[.wwwAuthenticate] = "Bearer error=\"invalid_token\""
            return response
        }
        return nil
    }

    /// Compares without an early exit, so timing does not reveal how much of a guess was right.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}

/// What `SIGHUP` and `POST /v1/admin/reload` did.
public enum ReloadAnswer: Sendable, Equatable {
    case applied(Applied)
    /// Nothing changed; every problem, each with its file, line, key and fix.
    case refused([String])

    public struct Applied: Sendable, Equatable, Codable {
        /// The epoch published with the new configuration (trigger `reload`); nil when it could not
        /// be published (the error is logged; the next epoch publishes it).
        public var epochID: Int64?
        public var policyHash: String
        public var policyChanged: Bool
        /// Endpoint ids added to and removed from the registry.
        public var added: [String]
        public var removed: [String]
        /// Endpoints in the registry now.
        public var endpoints: Int

        public init(epochID: Int64?, policyHash: String, policyChanged: Bool, added: [String], removed: [String], endpoints: Int) {
            self.epochID = epochID
            self.policyHash = policyHash
            self.policyChanged = policyChanged
            self.added = added
            self.removed = removed
            self.endpoints = endpoints
        }

        enum CodingKeys: String, CodingKey {
            case epochID = "epoch_id"
            case policyHash = "policy_hash"
            case policyChanged = "policy_changed"
            case added, removed, endpoints
        }
    }
}
