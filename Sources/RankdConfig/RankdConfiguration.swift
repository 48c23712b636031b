import Foundation
import RankdCore

/// The daemon's configuration, from `rankd.yaml` (see `deploy/rankd.example.yaml`).
public struct RankdConfiguration: Sendable {
    /// Address the HTTP API listens on. Default 127.0.0.1.
    public var listenHost = "127.0.0.1"
    /// Default 8080.
    public var listenPort = 8080
    /// Holds `state.db` (internal) and `rankings.db` (published). Default `./rankd-data`.
    public var dataDirectory = "rankd-data"
    /// Seconds between scheduled epochs. Default 300.
    public var epochIntervalSeconds = 300.0
    /// Policy file; nil means the built-in default policy.
    public var policyFile: String?
    /// Folder of benchmark CSV files; nil means none.
    public var benchmarksDirectory: String?
    /// Folder of probe suite YAML files; nil means none.
    public var probesDirectory: String?
    public var retention = Retention()
    public var tokens = Tokens()
    /// Serve HTTPS instead of HTTP; nil serves plain HTTP.
    public var tls: TLS?
    public var ingest = Ingest()
    /// Where shared state lives: nil keeps everything in the data directory (one node).
    public var postgres: Postgres?
    public var endpoints: [Endpoint] = []

    /// `storage: {postgres: ...}`: several replicas share telemetry, epochs and leadership through
    /// one PostgreSQL database (docs/ha.md).
    public struct Postgres: Sendable, Equatable {
        /// Where the connection URL is read (an environment variable or a file, never the file itself).
        public var url: TokenSource
        /// Connections each replica opens for ingest and reads (the leader lock and the listener
        /// have their own). Default 8.
        public var poolSize = 8
        /// This replica's name in `GET /v1/cluster`; default the host name and the listen port.
        public var replicaName: String?
        /// How others reach this replica (listed by `GET /v1/cluster`), e.g. http://10.0.0.7:8080.
        public var advertiseURL: String?

        public init(url: TokenSource, poolSize: Int = 8, replicaName: String? = nil, advertiseURL: String? = nil) {
            self.url = url
            self.poolSize = poolSize
            self.replicaName = replicaName
            self.advertiseURL = advertiseURL
        }
    }

    /// Live telemetry intake (the dedupe rules are in the policy's `ingest:`).
    public struct Ingest: Sendable {
        /// Largest request body read by `/v1/telemetry` and `/v1/traces` (413 above). Default 4 MiB.
        public var maxBodyBytes = 4 << 20
        /// Records waiting for the writer before new batches get 429. Default 100,000.
        public var queueRecords = 100_000

        public init() {}
    }

    public struct Retention: Sendable {
        /// Minute buckets kept in `state.db`. Default 48 h.
        public var minuteBucketsHours = 48.0
        /// Epochs kept in history (`state.db`). Default 30 days.
        public var epochHistoryDays = 30.0
        /// Epochs kept in the published `rankings.db`. Default 24 h.
        public var publishedEpochsHours = 24.0

        public init() {}
    }

    public struct Tokens: Sendable {
        /// Bearer token for `POST /v1/telemetry` and `/v1/traces`.
        public var ingest: TokenSource?
        /// Bearer token for `/v1/admin/*`.
        public var admin: TokenSource?
        /// When set, every read route (API and dashboard; not `/healthz`, `/readyz`) needs this
        /// token (or the admin token). Nil leaves reads open.
        public var read: TokenSource?
        /// When set, `/metrics` needs this token instead of the read token.
        public var metrics: TokenSource?

        public init() {}
    }

    /// The listener's certificate and key (PEM files), for HTTPS.
    public struct TLS: Sendable, Equatable {
        /// The certificate chain, leaf first.
        public var certificateFile: String
        public var keyFile: String

        public init(certificateFile: String, keyFile: String) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    public init() {}

    /// `host:port`, as the flag and the file write it.
    public var listenAddress: String { "\(listenHost):\(listenPort)" }
}

/// Where a secret comes from: never the configuration file itself.
public enum TokenSource: Hashable, Sendable, CustomStringConvertible {
    case environment(String)
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): "environment variable \(name)"
        case .file(let path): "file \(path)"
        }
    }
}

/// Parses `host:port` (IPv6 hosts in brackets; port 0 picks a free port). Nil when malformed.
public func parseListenAddress(_ text: String) -> (host: String, port: Int)? {
    guard let colon = text.lastIndex(of: ":") else { return nil }
    var host = String(text[..<colon])
    guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port), !host.isEmpty else { return nil }
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
}

extension TokenSource {
    var isEnvironment: Bool {
        if case .environment = self { return true }
        return false
    }
}

/// A PostgreSQL connection URL, `postgres://user:password@host:port/database?sslmode=...`, taken
/// apart. Its description never shows the password.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Why a URL cannot be used, naming the part at fault.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            throw Invalid(description: "does not start with postgres:// (write postgres://user:password@host:5432/database)")
        }
        guard let components = URLComponents(string: text) else {
            throw Invalid(description: "is not a URL (percent-encode special characters of the password)")
        }
        guard let host = components.host, !host.isEmpty else { throw Invalid(description: "names no host") }
        guard let user = components.user, !user.isEmpty else { throw Invalid(description: "names no user (postgres://USER:password@host/database)") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw Invalid(description: "names no database (postgres://user@host:5432/DATABASE)") }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value ?? "" {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                case let other: throw Invalid(description: "has sslmode=\(other); use disable, prefer or require")
                }
            default:
                throw Invalid(description: "has the parameter \(item.name), which rankd does not read (only sslmode)")
            }
        }
        self.init(
            host: host, port: components.port ?? 5432, user: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 }, database: database, tls: tls)
    }

    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}
