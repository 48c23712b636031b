import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// What the daemon does with operator overrides, injected so the HTTP layer does not depend on
/// the ranker or the store.
public struct OverrideSource: Sendable {
    /// Records the override and publishes an epoch with it; nil when the endpoint is unknown.
    public var apply: @Sendable (OverrideRequest) async throws -> (Override, Epoch)?
    /// Ends an override early and publishes an epoch without it. Nil when there is no such
    /// override; the epoch is nil when it had already ended (nothing changed).
    public var revoke: @Sendable (_ id: Int64, _ note: String?) async throws -> (Override, Epoch?)?
    /// Overrides in force, or every override (newest first) when `includeEnded`.
    public var list: @Sendable (_ includeEnded: Bool) async throws -> [Override]

    public init(
        apply: @escaping @Sendable (OverrideRequest) async throws -> (Override, Epoch)?,
        revoke: @escaping @Sendable (Int64, String?) async throws -> (Override, Epoch?)?,
        list: @escaping @Sendable (Bool) async throws -> [Override]
    ) {
        self.apply = apply
        self.revoke = revoke
        self.list = list
    }
}

/// `POST /v1/admin/overrides`, `DELETE /v1/admin/overrides/{id}` (admin token) and
/// `GET /v1/overrides` (the audit trail, readable by anyone who can read rankings).
public struct OverrideController<Context: RequestContext>: Sendable {
    let source: OverrideSource
    let live: LiveSettings
    let clock: any WallClock

    public init(source: OverrideSource, live: LiveSettings, clock: any WallClock) {
        self.source = source
        self.live = live
        self.clock = clock
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.post("admin/overrides") { request, _ in
            if let denied = BearerToken.check(request, expected: live.adminToken, name: "tokens.admin") { return denied }
            let body = try await request.body.collect(upTo: 16 * 1024)
            guard let json = JSONValue.parse(Data(body.readableBytesView)) else {
                return JSONResponse.error(
                    .badRequest, code: "invalid_json",
                    "the body is not JSON; send {\"endpoint_id\": ..., \"action\": \"pin|disable|demote|undemote\", \"note\": ..., \"expires_in_seconds\": 3600}"
                )
            }
            switch OverrideRequestParser.parse(json, now: clock.now()) {
            case .failure(let problems):
                return JSONResponse.invalid(problems)
            case .success(let parsed):
                guard let (override, epoch) = try await source.apply(parsed) else {
                    return JSONResponse.error(
                        .notFound, code: "unknown_endpoint",
                        "no endpoint \"\(parsed.endpointID)\" in the registry; GET /v1/rankings lists them")
                }
                return JSONResponse.encode(
                    OverrideJSON.Changed(override: .init(override, now: clock.now()), epoch: .init(epoch)), status: .created)
            }
        }
        routes.delete("admin/overrides/{id}") { request, context in
            if let denied = BearerToken.check(request, expected: live.adminToken, name: "tokens.admin") { return denied }
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return JSONResponse.error(.badRequest, code: "invalid_id", "the override id must be a whole number")
            }
            let note = request.uri.queryParameters["note"].map(String.init)
            guard let (override, epoch) = try await source.revoke(id, note) else {
                return JSONResponse.error(
                    .notFound, code: "unknown_override", "no override \(id); GET /v1/overrides?include=ended lists them all")
            }
            let now = clock.now()
            guard let epoch else {
                return JSONResponse.encode(
                    OverrideJSON.AlreadyEnded(
                        error: .init(code: "already_ended", message: "override \(id) had already ended; nothing changed"),
                        override: .init(override, now: now)),
                    status: .conflict)
            }
            return JSONResponse.encode(OverrideJSON.Changed(override: .init(override, now: now), epoch: .init(epoch)))
        }
        routes.get("overrides") { request, _ in
            let include = request.uri.queryParameters["include"].map(String.init)
            guard include == nil || include == "ended" || include == "active" else {
                return JSONResponse.error(
                    .badRequest, code: "invalid_include", "include is active (the default) or ended (every override, newest first)")
            }
            let now = clock.now()
            let overrides = try await source.list(include == "ended")
            return JSONResponse.encode(["overrides": overrides.map { OverrideJSON.Full($0, now: now) }])
        }
        return routes
    }
}

/// JSON shapes of overrides: snake_case, RFC 3339 times.
enum OverrideJSON {
    /// The override in force, as carried by a ranking entry.
    struct Applied: Encodable {
        var id: Int64
        var action: String
        var note: String
        var author: String?
        var expiresAt: String

        init(_ override: Override) {
            id = override.id
            action = override.action.rawValue
            note = override.note
            author = override.author
            expiresAt = RFC3339.format(override.expiresAt)
        }

        enum CodingKeys: String, CodingKey {
            case id, action, note, author
            case expiresAt = "expires_at"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(action, forKey: .action)
            try c.encode(note, forKey: .note)
            try c.encode(author, forKey: .author)
            try c.encode(expiresAt, forKey: .expiresAt)
        }
    }

    /// An override with its whole life: the audit record.
    struct Full: Encodable {
        var override: Override
        var active: Bool

        init(_ override: Override, now: Timestamp) {
            self.override = override
            active = override.isActive(at: now)
        }

        enum CodingKeys: String, CodingKey {
            case id, action, note, author, active
            case endpointID = "endpoint_id"
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case revokedAt = "revoked_at"
            case revokeNote = "revoke_note"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(override.id, forKey: .id)
            try c.encode(override.endpointID, forKey: .endpointID)
            try c.encode(override.action.rawValue, forKey: .action)
            try c.encode(override.note, forKey: .note)
            try c.encode(override.author, forKey: .author)
            try c.encode(RFC3339.format(override.createdAt), forKey: .createdAt)
            try c.encode(RFC3339.format(override.expiresAt), forKey: .expiresAt)
            try c.encode(override.revokedAt.map(RFC3339.format), forKey: .revokedAt)
            try c.encode(override.revokeNote, forKey: .revokeNote)
            try c.encode(active, forKey: .active)
        }
    }

    struct Changed: Encodable {
        var override: Full
        var epoch: EpochJSON.EpochHeader
    }

    struct AlreadyEnded: Encodable {
        var error: JSONResponse.ErrorBody.Detail
        var override: Full
    }
}
