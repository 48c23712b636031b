import Foundation
import HTTPTypes
import Hummingbird

/// Who may read: with `tokens.read` set, every route that is not health, ingest or admin (those
/// have their own rules) needs the read token or the admin token; `/metrics` needs
/// `tokens.metrics` instead when that is set. Without tokens everything stays open, as before.
///
/// A route is read-protected unless it is named here as exempt, so a route added later is
/// protected by default rather than open by mistake.
///
/// A token is accepted as `Authorization: Bearer <token>` or as the password of HTTP Basic
/// (any user name), so a browser can open the dashboard: the 401 offers both schemes and the
/// browser asks for the password, then sends it with the dashboard's links too.
public struct ReadAccess: Sendable {
    public var readToken: String?
    public var metricsToken: String?
    public var adminToken: String?

    public init(readToken: String? = nil, metricsToken: String? = nil, adminToken: String? = nil) {
        self.readToken = readToken
        self.metricsToken = metricsToken
        self.adminToken = adminToken
    }

    /// Which token a path needs.
    enum Scope: Equatable {
        case open
        case read
        case metrics
    }

    static func scope(of path: String) -> Scope {
        let path = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        switch path {
        case "/healthz", "/readyz", "/v1/telemetry", "/v1/traces": return .open
        case "/metrics": return .metrics
        default: return path.hasPrefix("/v1/admin/") ? .open : .read
        }
    }

    /// The tokens that open `scope`; nil when it is open to all.
    func accepted(for scope: Scope) -> [String]? {
        let own: String?
        switch scope {
        case .open: return nil
        case .metrics: own = metricsToken ?? readToken
        case .read: own = readToken
        }
        guard let own else { return nil }
        return [own] + (adminToken.map { [$0] } ?? [])
    }

    /// Whether anything is protected at all (the fast path skips the check when not).
    public var isOpen: Bool { readToken == nil && metricsToken == nil }

    enum Verdict: Equatable {
        case allowed
        case missing(tokenName: String)
        case wrong(tokenName: String)
    }

    func verdict(path: String, headers: HTTPFields) -> Verdict {
        let scope = Self.scope(of: path)
        guard let tokens = accepted(for: scope) else { return .allowed }
        let name = scope == .metrics && metricsToken != nil ? "tokens.metrics" : "tokens.read"
        guard let presented = Self.presented(headers[.authorization]) else { return .missing(tokenName: name) }
        // Every token is compared in full, so timing does not tell which one came close.
        var matched = false
        for token in tokens where BearerToken.constantTimeEquals(presented, token) { matched = true }
        return matched ? .allowed : .wrong(tokenName: name)
    }

    /// Whether the request may read `path` (the fast path's check, without building a response).
    public func allows(path: String, headers: HTTPFields) -> Bool {
        verdict(path: path, headers: headers) == .allowed
    }

    /// Nil when the request may go on; otherwise the 401 to send.
    public func refusal(path: String, headers: HTTPFields) -> Response? {
        switch verdict(path: path, headers: headers) {
        case .allowed:
            return nil
        case .missing(let name):
            return Self.unauthorized(
                code: "missing_token",
                "send Authorization: Bearer <token> (the token named by \(name)), or the token as the password of HTTP Basic",
                error: nil)
        case .wrong(let name):
            return Self.unauthorized(code: "wrong_token", "the token is not the one named by \(name)", error: "invalid_token")
        }
    }

    /// The token in a Bearer or Basic `Authorization` value.
    static func presented(_ header: String?) -> String? {
        guard let header else { return nil }
        let lowered = header.lowercased()
        if lowered.hasPrefix("bearer ") {
            return header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        }
        if lowered.hasPrefix("basic ") {
            let encoded = header.dropFirst("basic ".count).trimmingCharacters(in: .whitespaces)
            guard let data = Data(base64Encoded: encoded), let pair = String(data: data, encoding: .utf8),
                let colon = pair.firstIndex(of: ":")
            else { return nil }
            return String(pair[pair.index(after: colon)...])
        }
        return nil
    }

    static func unauthorized(code: String, _ message: String, error: String?) -> Response {
        var response = JSONResponse.error(.unauthorized, code: code, message)
        response.headers.append(
            HTTPField(name: .wwwAuthenticate, value: "Bearer realm=\"rankd\"" + (error.map { ", error=\"\($0)\"" } ?? "")))
        response.headers.append(HTTPField(name: .wwwAuthenticate, value: "Basic realm=\"rankd\", charset=\"UTF-8\""))
        return response
    }
}

/// Applies `ReadAccess` before any route answers (unknown paths included, so a caller without
/// the token learns nothing about which routes exist).
struct ReadAccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let live: LiveSettings

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let access = live.access
        if access.isOpen { return try await next(request, context) }
        if let refusal = access.refusal(path: request.uri.path, headers: request.headers) { return refusal }
        return try await next(request, context)
    }
}
