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
    public var endpoints: [Endpoint] = []

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
