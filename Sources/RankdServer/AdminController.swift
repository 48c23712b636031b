import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// `/v1/admin/*`, behind the admin bearer token. Off (403 with the fix) when no token is configured.
public struct AdminController<Context: RequestContext>: Sendable {
    let live: LiveSettings
    let recompute: @Sendable () async throws -> Epoch

    public init(live: LiveSettings, recompute: @escaping @Sendable () async throws -> Epoch) {
        self.live = live
        self.recompute = recompute
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
