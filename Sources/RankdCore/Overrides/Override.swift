/// An operator's decision about one endpoint, for a limited time, with a note saying why.
///
/// Overrides are applied by the scorer on top of the rules: they change what an epoch publishes,
/// never the demotion memory, so when one ends the endpoint is back where the rules put it.
/// Every override ever made is kept (an audit trail): ended ones carry `revokedAt` or lie past
/// `expiresAt`.
public struct Override: Hashable, Codable, Sendable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        /// Ranked first in its model (ahead of every other endpoint); a rule demotion is lifted.
        case pin
        /// Published as `disabled`, ranked last, as if switched off in the configuration.
        case disable
        /// Published as `demoted` whatever the rules say, until the override ends.
        case demote
        /// A rule demotion is not published: the endpoint keeps its place by score.
        case undemote

        /// The reason code the override adds to the endpoint's entry.
        public var reasonCode: String {
            switch self {
            case .pin: ReasonCode.operatorPinned
            case .disable: ReasonCode.operatorDisabled
            case .demote: ReasonCode.operatorDemoted
            case .undemote: ReasonCode.operatorUndemoted
            }
        }
    }

    public var id: Int64
    public var endpointID: String
    public var action: Action
    public var note: String
    /// Who asked, as the caller said (the admin token is shared, so this is not proof).
    public var author: String?
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    /// Set when the override was withdrawn or superseded before it expired.
    public var revokedAt: Timestamp?
    public var revokeNote: String?

    public init(
        id: Int64, endpointID: String, action: Action, note: String, author: String? = nil, createdAt: Timestamp, expiresAt: Timestamp,
        revokedAt: Timestamp? = nil, revokeNote: String? = nil
    ) {
        self.id = id
        self.endpointID = endpointID
        self.action = action
        self.note = note
        self.author = author
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.revokeNote = revokeNote
    }

    /// In force at `now`: not withdrawn and not yet expired.
    public func isActive(at now: Timestamp) -> Bool {
        revokedAt == nil && now < expiresAt
    }

    /// The active override of each endpoint at `now` (the newest, should several overlap).
    public static func active(_ overrides: [Override], at now: Timestamp) -> [String: Override] {
        var result: [String: Override] = [:]
        for override in overrides where override.isActive(at: now) {
            if let current = result[override.endpointID], current.id > override.id { continue }
            result[override.endpointID] = override
        }
        return result
    }
}

/// What an operator asks for; the daemon gives it an id and times.
public struct OverrideRequest: Hashable, Sendable {
    public var endpointID: String
    public var action: Override.Action
    public var note: String
    public var author: String?
    /// Either a duration from now or an absolute end.
    public var expiry: Expiry

    public enum Expiry: Hashable, Sendable {
        case after(seconds: Double)
        case at(Timestamp)
    }

    public init(endpointID: String, action: Override.Action, note: String, author: String? = nil, expiry: Expiry) {
        self.endpointID = endpointID
        self.action = action
        self.note = note
        self.author = author
        self.expiry = expiry
    }

    /// The longest an override may last: overrides are for incidents, not configuration.
    public static let maximumSeconds: Double = 30 * 86_400

    public func expiresAt(now: Timestamp) -> Timestamp {
        switch expiry {
        case .after(let seconds): now.adding(seconds: seconds)
        case .at(let time): time
        }
    }
}

/// Reads a `POST /v1/admin/overrides` body strictly: each problem names its field and the fix.
public enum OverrideRequestParser {
    public typealias FieldError = RouteRequestParser.FieldError
    public typealias FieldErrors = RouteRequestParser.FieldErrors

    static let keys: Set<String> = ["endpoint_id", "action", "note", "author", "expires_in_seconds", "expires_at"]

    public static func parse(_ body: JSONValue, now: Timestamp) -> Result<OverrideRequest, FieldErrors> {
        guard case .object(let object) = body else {
            return .failure(
                FieldErrors(errors: [
                    FieldError(
                        field: "body",
                        message:
                            "must be a JSON object like {\"endpoint_id\": \"...\", \"action\": \"demote\", \"note\": \"...\", \"expires_in_seconds\": 3600}"
                    )
                ]))
        }
        var errors: [FieldError] = []
        for key in object.keys.sorted() where !keys.contains(key) {
            errors.append(FieldError(field: key, message: "is not a known field; known: \(keys.sorted().joined(separator: ", "))"))
        }
        let endpointID = object["endpoint_id"]?.stringValue ?? ""
        if endpointID.isEmpty {
            errors.append(FieldError(field: "endpoint_id", message: "is required: the endpoint id, e.g. provider:author/model"))
        }
        let actionNames = Override.Action.allCases.map(\.rawValue).joined(separator: ", ")
        let action = object["action"]?.stringValue.flatMap(Override.Action.init(rawValue:))
        if action == nil {
            errors.append(FieldError(field: "action", message: "is required: one of \(actionNames)"))
        }
        let note = object["note"]?.stringValue?.trimmingWhitespace ?? ""
        if note.isEmpty {
            errors.append(FieldError(field: "note", message: "is required: say why, for whoever reads the history later"))
        } else if note.count > 500 {
            errors.append(FieldError(field: "note", message: "is longer than 500 characters; link to a ticket instead"))
        }
        var author: String?
        if let value = object["author"] {
            if let text = value.stringValue, text.count <= 100 {
                author = text
            } else {
                errors.append(FieldError(field: "author", message: "must be a string of at most 100 characters"))
            }
        }
        var expiry: OverrideRequest.Expiry?
        switch (object["expires_in_seconds"], object["expires_at"]) {
        case (nil, nil):
            errors.append(FieldError(field: "expires_in_seconds", message: "is required (or expires_at): every override ends, e.g. 3600"))
        case (.some, .some):
            errors.append(FieldError(field: "expires_at", message: "give expires_in_seconds or expires_at, not both"))
        case (.number(let seconds)?, nil):
            if seconds > 0, seconds <= OverrideRequest.maximumSeconds {
                expiry = .after(seconds: seconds)
            } else {
                errors.append(
                    FieldError(
                        field: "expires_in_seconds", message: "must be above 0 and at most \(Int(OverrideRequest.maximumSeconds)) (30 days)"
                    ))
            }
        case (_?, nil):
            errors.append(FieldError(field: "expires_in_seconds", message: "must be a number of seconds, e.g. 3600"))
        case (nil, let value?):
            if let text = value.stringValue, let time = RFC3339.parse(text) {
                let seconds = time.seconds(since: now)
                if seconds > 0, seconds <= OverrideRequest.maximumSeconds {
                    expiry = .at(time)
                } else {
                    errors.append(FieldError(field: "expires_at", message: "must lie in the future, at most 30 days ahead"))
                }
            } else {
                errors.append(FieldError(field: "expires_at", message: "must be an RFC 3339 time like 2026-11-25T18:00:00Z"))
            }
        }
        guard errors.isEmpty, let action, let expiry else { return .failure(FieldErrors(errors: errors)) }
        return .success(OverrideRequest(endpointID: endpointID, action: action, note: note, author: author, expiry: expiry))
    }
}

extension String {
    var trimmingWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
