import Foundation
import RankdCore
import Yams

/// A configuration with everything it points at loaded and checked.
public struct LoadedConfiguration: Sendable {
    public var configuration: RankdConfiguration
    public var policy: Policy
    public var benchmarks: [BenchmarkScore]
    /// Resolved secrets (never logged).
    public var ingestToken: String?
    public var adminToken: String?
    public var readToken: String?
    public var metricsToken: String?
    /// Probe suites from `probes_dir`, validated.
    public var probeSuites: [ProbeSuite]
    /// The PostgreSQL address of `storage.postgres`, read from where it points (never logged).
    public var postgresAddress: PostgresAddress?

    public init(
        configuration: RankdConfiguration, policy: Policy = .default, benchmarks: [BenchmarkScore] = [], ingestToken: String? = nil,
        adminToken: String? = nil, readToken: String? = nil, metricsToken: String? = nil, probeSuites: [ProbeSuite] = []
    ) {
        self.readToken = readToken
        self.metricsToken = metricsToken
        self.configuration = configuration
        self.policy = policy
        self.benchmarks = benchmarks
        self.ingestToken = ingestToken
        self.adminToken = adminToken
        self.probeSuites = probeSuites
    }
}

/// Reads and validates `rankd.yaml` and the policy, benchmark and probe files it names, in one
/// pass that collects every problem.
public enum ConfigurationLoader {
    public static let quantizations = ["int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16", "fp32", "unknown"]

    /// Loads from a file. Throws `ConfigurationErrors` with every problem found.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LoadedConfiguration
    {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationErrors(problems: [
                ConfigProblem(file: path, path: "", message: "cannot be read; check the path and permissions")
            ])
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try load(yaml: text, file: path, baseDirectory: base, environment: environment)
    }

    /// Loads from text; relative paths in it are taken from `baseDirectory`.
    public static func load(yaml: String, file: String, baseDirectory: String, environment: [String: String]) throws -> LoadedConfiguration
    {
        let problems = ProblemList()
        var configuration = RankdConfiguration()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigurationErrors(problems: [ConfigProblem(file: file, path: "", message: "is not valid YAML: \(error)")])
        }
        let fields = YAMLFields(root, file: file, path: "", problems: problems)
        if root == nil { problems.add(ConfigProblem(file: file, path: "", message: "is empty; start from deploy/rankd.example.yaml")) }

        if let listen = fields.string("listen") {
            if let parsed = parseListenAddress(listen) {
                configuration.listenHost = parsed.host
                configuration.listenPort = parsed.port
            } else {
                fields.report("listen", fields.node("listen"), "\"\(listen)\" is not HOST:PORT; write it like 127.0.0.1:8080")
            }
        }
        configuration.dataDirectory = resolve(fields.string("data_dir") ?? configuration.dataDirectory, base: baseDirectory)
        configuration.epochIntervalSeconds = fields.double("epoch_interval_seconds", default: 300, range: 5...86_400, unit: "seconds")
        configuration.policyFile = fields.string("policy_file").map { resolve($0, base: baseDirectory) }
        configuration.benchmarksDirectory = fields.string("benchmarks_dir").map { resolve($0, base: baseDirectory) }
        configuration.probesDirectory = fields.string("probes_dir").map { resolve($0, base: baseDirectory) }

        let retention = fields.fields("retention")
        configuration.retention.minuteBucketsHours = retention.double("minute_buckets_hours", default: 48, range: 1...8_760, unit: "hours")
        configuration.retention.epochHistoryDays = retention.double("epoch_history_days", default: 30, range: 1...3_650, unit: "days")
        configuration.retention.publishedEpochsHours = retention.double(
            "published_epochs_hours", default: 24, range: 1...8_760, unit: "hours")
        retention.finish()
        let ingest = fields.fields("ingest")
        configuration.ingest.maxBodyBytes = ingest.int("max_body_bytes", default: 4 << 20, range: 1_024...(256 << 20), unit: "bytes")
        configuration.ingest.queueRecords = ingest.int("queue_records", default: 100_000, range: 1_000...10_000_000)
        ingest.finish()

        let tokens = fields.fields("tokens")
        configuration.tokens.ingest = tokenSource(tokens, "ingest")
        configuration.tokens.admin = tokenSource(tokens, "admin")
        configuration.tokens.read = tokenSource(tokens, "read")
        configuration.tokens.metrics = tokenSource(tokens, "metrics")
        tokens.finish()
        configuration.tls = tlsFiles(fields, baseDirectory: baseDirectory)
        configuration.postgres = postgresStorage(fields, baseDirectory: baseDirectory)

        configuration.endpoints = EndpointRegistryReader.read(fields, problems: problems)
        fields.finish()

        let policy = configuration.policyFile.map { PolicyLoader.load(path: $0, problems: problems) } ?? .default
        if policy.windows.longSeconds > configuration.retention.minuteBucketsHours * 3600 {
            problems.add(
                ConfigProblem(
                    file: file, path: "retention.minute_buckets_hours",
                    message:
                        "keeps less than the policy's long window (\(Int(policy.windows.longSeconds)) s); raise it so a restart can rebuild the window"
                ))
        }
        let benchmarks =
            configuration.benchmarksDirectory.map {
                BenchmarkLoader.loadDirectory($0, endpointIDs: Set(configuration.endpoints.map(\.id)), problems: problems)
            } ?? []
        let probeSuites = configuration.probesDirectory.map { ProbeSuiteLoader.loadDirectory($0, problems: problems) } ?? []

        let ingestToken = configuration.tokens.ingest.flatMap {
            resolveToken($0, key: "tokens.ingest", file: file, environment: environment, problems: problems)
        }
        let adminToken = configuration.tokens.admin.flatMap {
            resolveToken($0, key: "tokens.admin", file: file, environment: environment, problems: problems)
        }

        let readToken = configuration.tokens.read.flatMap {
            resolveToken($0, key: "tokens.read", file: file, environment: environment, problems: problems)
        }
        let metricsToken = configuration.tokens.metrics.flatMap {
            resolveToken($0, key: "tokens.metrics", file: file, environment: environment, problems: problems)
        }

        let postgresAddress = configuration.postgres.flatMap {
            resolvePostgresAddress($0.url, file: file, environment: environment, problems: problems)
        }

        guard problems.isEmpty else { throw ConfigurationErrors(problems: problems.problems) }
        var loaded = LoadedConfiguration(
            configuration: configuration, policy: policy, benchmarks: benchmarks, ingestToken: ingestToken, adminToken: adminToken,
            readToken: readToken, metricsToken: metricsToken, probeSuites: probeSuites)
        loaded.postgresAddress = postgresAddress
        return loaded
    }

    /// `storage: {postgres: {url_env | url_file, pool_size, replica_name, advertise_url}}`.
    private static func postgresStorage(_ fields: YAMLFields, baseDirectory: String) -> RankdConfiguration.Postgres? {
        guard fields.node("storage") != nil else { return nil }
        let storage = fields.fields("storage")
        defer { storage.finish() }
        guard let node = storage.node("postgres") else { return nil }
        let postgres = storage.fields("postgres")
        defer { postgres.finish() }
        let fix = "write url_env: RANKD_POSTGRES_URL (an environment variable holding postgres://user:password@host:5432/rankd) or url_file: /etc/rankd/postgres.url"
        if postgres.has("url") {
            _ = postgres.node("url")
            postgres.report(postgres.keyPath("url"), node, "the URL holds a password and is never written inline; \(fix)")
        }
        let env = postgres.string("url_env")
        let file = postgres.string("url_file")
        let poolSize = postgres.int("pool_size", default: 8, range: 1...100)
        let replicaName = postgres.string("replica_name")
        let advertise = postgres.string("advertise_url")
        if let advertise, !(advertise.hasPrefix("http://") || advertise.hasPrefix("https://")) {
            postgres.report(postgres.keyPath("advertise_url"), postgres.node("advertise_url"), "\"\(advertise)\" is not an http:// or https:// URL")
        }
        let source: TokenSource
        switch (env, file) {
        case let (name?, nil):
            guard name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
                postgres.report(postgres.keyPath("url_env"), node, "\"\(name)\" is not an environment variable name; use letters, digits and _")
                return nil
            }
            source = .environment(name)
        case let (nil, path?):
            source = .file(resolve(path, base: baseDirectory))
        case (.some, .some):
            postgres.report(postgres.keyPath("url_env"), node, "give url_env or url_file, not both")
            return nil
        case (nil, nil):
            if !postgres.has("url") { postgres.report(postgres.keyPath("url_env"), node, "is required; \(fix)") }
            return nil
        }
        return RankdConfiguration.Postgres(url: source, poolSize: poolSize, replicaName: replicaName, advertiseURL: advertise)
    }

    private static func resolvePostgresAddress(_ source: TokenSource, file: String, environment: [String: String], problems: ProblemList)
        -> PostgresAddress?
    {
        let key = "storage.postgres"
        let text: String
        switch source {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                problems.add(
                    ConfigProblem(
                        file: file, path: "\(key).url_env",
                        message: "environment variable \(name) is not set; export it (\(name)=postgres://rankd:PASSWORD@db:5432/rankd)"))
                return nil
            }
            text = value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let value = String(data: data, encoding: .utf8) else {
                problems.add(ConfigProblem(file: file, path: "\(key).url_file", message: "\(path) cannot be read; create it (mode 600) or fix the path"))
                return nil
            }
            text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        do {
            return try PostgresAddress(parsing: text)
        } catch {
            // The reason names the part at fault, never the URL (it may hold a password).
            let field = source.isEnvironment ? "\(key).url_env" : "\(key).url_file"
            problems.add(ConfigProblem(file: file, path: field, message: "the URL from \(source) \(error)"))
            return nil
        }
    }

    /// `tls: {cert_file, key_file}`: both PEM files must be readable and hold what they are named
    /// for (the server parses them fully when it starts, and says so if they do not fit).
    private static func tlsFiles(_ fields: YAMLFields, baseDirectory: String) -> RankdConfiguration.TLS? {
        guard let node = fields.node("tls") else { return nil }
        let tls = fields.fields("tls")
        defer { tls.finish() }
        let certificate = tls.string("cert_file")
        let key = tls.string("key_file")
        guard let certificate, let key else {
            for missing in ["cert_file", "key_file"] where !tls.has(missing) {
                tls.report(
                    tls.keyPath(missing), node,
                    "is required (a PEM file); write tls: {cert_file: /etc/rankd/tls.crt, key_file: /etc/rankd/tls.key}")
            }
            return nil
        }
        let files = RankdConfiguration.TLS(
            certificateFile: resolve(certificate, base: baseDirectory), keyFile: resolve(key, base: baseDirectory))
        for (key, path, marker, what) in [
            ("cert_file", files.certificateFile, "-----BEGIN CERTIFICATE-----", "a PEM certificate"),
            ("key_file", files.keyFile, "PRIVATE KEY-----", "a PEM private key"),
        ] {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                tls.report(tls.keyPath(key), tls.node(key), "\(path) cannot be read; check the path and that the rankd user may read it")
                continue
            }
            if !text.contains(marker) { tls.report(tls.keyPath(key), tls.node(key), "\(path) does not hold \(what) (no \"\(marker)\")") }
        }
        return files
    }

    static func resolve(_ path: String, base: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
    }

    private static func tokenSource(_ tokens: YAMLFields, _ key: String) -> TokenSource? {
        guard let node = tokens.node(key) else { return nil }
        let path = tokens.keyPath(key)
        let fix = "write {env: RANKD_\(key.uppercased())_TOKEN} or {file: /etc/rankd/\(key).token}"
        if case .scalar = node {
            tokens.report(path, node, "secrets are never written inline; \(fix)")
            return nil
        }
        let source = YAMLFields(node, file: tokens.file, path: path, problems: tokens.problems)
        let env = source.string("env")
        let file = source.string("file")
        if source.has("value") || source.has("token") {
            _ = source.node("value")
            _ = source.node("token")
            source.report(path, node, "secrets are never written inline; \(fix)")
        }
        source.finish()
        switch (env, file) {
        case let (name?, nil):
            if name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil {
                source.report("\(path).env", node, "\"\(name)\" is not an environment variable name; use letters, digits and _")
                return nil
            }
            return .environment(name)
        case let (nil, file?): return .file(resolve(file, base: URL(fileURLWithPath: tokens.file).deletingLastPathComponent().path))
        case (.some, .some):
            source.report(path, node, "give env or file, not both")
        case (nil, nil):
            if !source.problems.problems.contains(where: { $0.path == path }) { source.report(path, node, "needs env or file; \(fix)") }
        }
        return nil
    }

    private static func resolveToken(_ source: TokenSource, key: String, file: String, environment: [String: String], problems: ProblemList)
        -> String?
    {
        let value: String?
        switch source {
        case .environment(let name):
            value = environment[name]
            if value == nil || value!.isEmpty {
                problems.add(
                    ConfigProblem(
                        file: file, path: key,
                        message:
                            "environment variable \(name) is not set; export it (e.g. \(name)=$(openssl rand -hex 32)) or remove \(key)"))
                return nil
            }
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                problems.add(
                    ConfigProblem(file: file, path: key, message: "token file \(path) cannot be read; create it (mode 600) or fix the path")
                )
                return nil
            }
            value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let token = value, token.count >= 16 else {
            problems.add(
                ConfigProblem(
                    file: file, path: key,
                    message: "the token from \(source) is shorter than 16 characters; use a long random one (openssl rand -hex 32)"))
            return nil
        }
        return token
    }

}

/// Every problem found, in file order; `description` prints one per line.
public struct ConfigurationErrors: Error, CustomStringConvertible, Sendable {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
