import Foundation
import RankdConfig
import RankdCore
import RankdTestKit
import Testing

@Suite struct ConfigurationTests {
    let tokens = [
        "RANKD_INGEST_TOKEN": String(repeating: "i", count: 32), "RANKD_ADMIN_TOKEN": String(repeating: "a", count: 32), "SHORT": "abc",
        "PG_OK": "postgres://rankd:s3cret@db.internal:5433/rankd?sslmode=require", "PG_MYSQL": "mysql://rankd:s3cret@db/rankd",
        "PG_NO_DB": "postgres://rankd:s3cret@db/", "PG_BAD_SSL": "postgres://rankd:s3cret@db/rankd?sslmode=maybe",
    ]

    /// storage.postgres: the URL from the environment, taken apart; no message ever shows the password.
    @Test func postgresStorageReadsTheURLFromWhereItPointsAndNeverShowsThePassword() throws {
        let loaded = try load("storage:\n  postgres: {url_env: PG_OK, pool_size: 12, replica_name: pod-a, advertise_url: \"http://10.0.0.7:8080\"}\n" + Self.minimal)
        let address = try #require(loaded.postgresAddress)
        #expect(address == PostgresAddress(host: "db.internal", port: 5433, user: "rankd", password: "s3cret", database: "rankd", tls: .require))
        #expect("\(address)" == "postgres://rankd@db.internal:5433/rankd")
        let postgres = try #require(loaded.configuration.postgres)
        #expect(postgres.poolSize == 12 && postgres.replicaName == "pod-a" && postgres.advertiseURL == "http://10.0.0.7:8080")
        #expect(try load(Self.minimal).configuration.postgres == nil)
        for variable in ["PG_MYSQL", "PG_NO_DB", "PG_BAD_SSL"] {
            let found = problems("storage:\n  postgres: {url_env: \(variable)}\n" + Self.minimal)
            #expect(!found.isEmpty && found.allSatisfy { !$0.description.contains("s3cret") }, "\(found)")
        }
    }

    func load(_ yaml: String, environment: [String: String]? = nil) throws -> LoadedConfiguration {
        try ConfigurationLoader.load(
            yaml: yaml, file: "rankd.yaml", baseDirectory: RepositoryFiles.path("deploy"), environment: environment ?? tokens)
    }

    func problems(_ yaml: String) -> [ConfigProblem] {
        do {
            _ = try load(yaml)
            return []
        } catch let errors as ConfigurationErrors {
            return errors.problems
        } catch {
            return [ConfigProblem(file: "?", path: "?", message: "\(error)")]
        }
    }

    static let minimal = """
        endpoints:
          - provider: acme
            model: acme/model-1
            base_url: https://api.acme.test/v1
        """

    @Test func exampleConfigurationIsValidAndComplete() throws {
        let loaded = try ConfigurationLoader.load(path: RepositoryFiles.path("deploy/rankd.example.yaml"), environment: tokens)
        let c = loaded.configuration
        #expect(c.listenAddress == "127.0.0.1:8080")
        #expect(c.epochIntervalSeconds == 300)
        #expect(c.endpoints.count == 5)
        #expect(c.endpoints.filter { !$0.enabled }.count == 1)
        #expect(loaded.benchmarks.count == 4)
        #expect(loaded.adminToken == tokens["RANKD_ADMIN_TOKEN"])
        let vllm = c.endpoints.first { $0.id == "self-hosted-vllm" }!
        #expect(vllm.zeroDataRetention && vllm.regions == ["eu"] && vllm.quantization == "bf16")
        let deepinfra = c.endpoints.first { $0.id == "deepinfra:meta-llama/llama-3.3-70b-instruct" }!
        #expect(deepinfra.pricing.promptPerMillionTokensUSD == 0.23)
        #expect(deepinfra.apiKeyEnvironmentVariable == "DEEPINFRA_API_KEY")
        #expect(deepinfra.distillable == true && deepinfra.pricing.perImageUSD == nil)
        #expect(c.endpoints.first { $0.id == "self-hosted-vllm" }?.distillable == nil, "not declared")
    }

    @Test func shippedPolicyFileEqualsTheBuiltInDefault() {
        let problems = ProblemList()
        let policy = PolicyLoader.load(path: RepositoryFiles.path("scoring/policy.yaml"), problems: problems)
        #expect(problems.problems.isEmpty, "\(problems.problems)")
        #expect(policy == Policy.default)
    }

    /// What state.db keeps of a policy (and `GET /v1/policies/{hash}` shows) is the policy file's
    /// own keys: the loader reads it back exactly, and a key it lacks (one added to the policy
    /// since) takes its default, so an old record still reads.
    @Test func recordedPolicyReadsBackThroughTheLoader() throws {
        var policy = Policy.default
        policy.weights.benchmark = 0.2
        policy.routing.preferenceWindowSeconds = 120
        policy.reliability.ignoredOutcomes = [.http429, .http4xx]
        let text = String(decoding: try Policy.fileJSON(policy), as: UTF8.self)
        let problems = ProblemList()
        #expect(PolicyLoader.parse(yaml: text, file: "recorded", problems: problems) == policy)
        #expect(problems.problems.isEmpty, "\(problems.problems)")
        var object = try #require(JSONValue.parse(text)?.objectValue)
        object["benchmarks"] = nil
        let older = PolicyLoader.parse(yaml: JSONValue.object(object).jsonText, file: "recorded", problems: problems)
        #expect(problems.problems.isEmpty, "\(problems.problems)")
        #expect(older.benchmarks == Policy.Benchmarks())
        #expect(older.weights == policy.weights)
    }

    @Test func readAndMetricsTokensAndTLSFilesAreLoaded() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // What the loader checks without parsing: readable, and PEM blocks of the right kind.
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(toFile: dir.path + "/tls.crt", atomically: true, encoding: .utf8)
        try "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n".write(toFile: dir.path + "/tls.key", atomically: true, encoding: .utf8)
        let yaml = """
            tokens:
              read: {env: RANKD_READ_TOKEN}
              metrics: {env: RANKD_METRICS_TOKEN}
            tls: {cert_file: \(dir.path)/tls.crt, key_file: tls.key}
            """
        let loaded = try ConfigurationLoader.load(
            yaml: yaml + "\n" + Self.minimal, file: dir.path + "/rankd.yaml", baseDirectory: dir.path,
            environment: ["RANKD_READ_TOKEN": String(repeating: "r", count: 20), "RANKD_METRICS_TOKEN": String(repeating: "m", count: 20)])
        #expect(loaded.readToken == String(repeating: "r", count: 20))
        #expect(loaded.metricsToken == String(repeating: "m", count: 20))
        #expect(loaded.configuration.tls == .init(certificateFile: dir.path + "/tls.crt", keyFile: dir.path + "/tls.key"))
        let plain = try load(Self.minimal, environment: [:])
        #expect(plain.readToken == nil && plain.metricsToken == nil && plain.configuration.tls == nil)
    }

    @Test func minimalConfigurationGetsDefaults() throws {
        let loaded = try load(Self.minimal, environment: [:])
        #expect(loaded.configuration.endpoints[0].id == "acme:acme/model-1")
        #expect(loaded.configuration.endpoints[0].upstreamModel == "acme/model-1")
        #expect(loaded.configuration.tokens.admin == nil)
        #expect(loaded.policy == .default)
    }

    /// Each bad input, the key path the error must name, and a word of the fix.
    @Test(arguments: [
        ("listen: nowhere\n" + minimal, "listen", "127.0.0.1:8080"),
        ("epoch_interval_seconds: 1\n" + minimal, "epoch_interval_seconds", "between 5 and 86400"),
        ("epoch_interval_seconds: soon\n" + minimal, "epoch_interval_seconds", "must be a number"),
        ("tokens:\n  admin: hunter2hunter2hunter2\n" + minimal, "tokens.admin", "never written inline"),
        ("tokens:\n  admin: {env: NOT_SET_ANYWHERE}\n" + minimal, "tokens.admin", "is not set"),
        ("tokens:\n  admin: {env: SHORT}\n" + minimal, "tokens.admin", "shorter than 16"),
        ("tokens:\n  admin: {file: /nonexistent/admin.token}\n" + minimal, "tokens.admin", "cannot be read"),
        ("endpoint:\n  - provider: x\n", "endpoint", "did you mean endpoints?"),
        ("endpoints: []\n", "endpoints", "at least one"),
        (minimal + "\n    base_urll: x", "endpoints[0].base_urll", "did you mean base_url?"),
        (minimal.replacingOccurrences(of: "https://api.acme.test/v1", with: "ftp://acme"), "endpoints[0].base_url", "http(s) URL"),
        (minimal.replacingOccurrences(of: "acme/model-1", with: "model-1"), "endpoints[0].model", "author/name"),
        (minimal + "\n    quantization: fp7", "endpoints[0].quantization", "fp8"),
        (minimal + "\n    pricing: {prompt_per_million_usd: -1}", "endpoints[0].pricing.prompt_per_million_usd", "between 0"),
        (minimal + "\n    data_collection: maybe", "endpoints[0].data_collection", "allow or deny"),
        (minimal + "\n    supported_parameters: [tools, telepathy]", "endpoints[0].supported_parameters[1]", "known request parameter"),
        (minimal + "\n    regions: [Europe]", "endpoints[0].regions[0]", "region code"),
        (minimal + "\n    api_key: sk-123", "endpoints[0].api_key", "never written inline"),
        (minimal + "\n    zdr: sometimes", "endpoints[0].zdr", "true or false"),
        (minimal + "\n    distillable: perhaps", "endpoints[0].distillable", "true or false"),
        (minimal + "\n    pricing: {image_usd: -0.5}", "endpoints[0].pricing.image_usd", "between 0"),
        (
            minimal + "\n" + minimal.split(separator: "\n").dropFirst().joined(separator: "\n"), "endpoints[1].id",
            "already used by endpoints[0]"
        ),
        ("tokens:\n  read: opensesame-opensesame\n" + minimal, "tokens.read", "never written inline"),
        ("tokens:\n  metrics: {env: SHORT}\n" + minimal, "tokens.metrics", "shorter than 16"),
        ("tokens:\n  reed: {env: SHORT}\n" + minimal, "tokens.reed", "did you mean read?"),
        ("tls: {cert_file: /etc/hostname}\n" + minimal, "tls.key_file", "is required"),
        ("tls: {cert_file: /nonexistent/tls.crt, key_file: /etc/hostname}\n" + minimal, "tls.cert_file", "cannot be read"),
        ("tls: {cert_file: /etc/hostname, key_file: /etc/hostname}\n" + minimal, "tls.cert_file", "PEM certificate"),
        ("tls: {cert_file: /etc/hostname, key_file: /etc/hostname}\n" + minimal, "tls.key_file", "PEM private key"),
        ("tls: {cert_file: a, key_file: b, ca_file: c}\n" + minimal, "tls.ca_file", "not a known key"),
        ("policy_file: /nonexistent/policy.yaml\n" + minimal, "", "built-in policy"),
        ("retention: {minute_buckets_hours: 2}\n" + minimal, "retention.minute_buckets_hours", "long window"),
        ("storage:\n  postgres: {url: \"postgres://u:pw@db/rankd\"}\n" + minimal, "storage.postgres.url", "never written inline"),
        ("storage:\n  postgres: {}\n" + minimal, "storage.postgres.url_env", "is required"),
        ("storage:\n  postgres: {url_env: NOT_SET_ANYWHERE}\n" + minimal, "storage.postgres.url_env", "is not set"),
        ("storage:\n  postgres: {url_env: PG_MYSQL}\n" + minimal, "storage.postgres.url_env", "does not start with postgres://"),
        ("storage:\n  postgres: {url_env: PG_NO_DB}\n" + minimal, "storage.postgres.url_env", "names no database"),
        ("storage:\n  postgres: {url_env: PG_BAD_SSL}\n" + minimal, "storage.postgres.url_env", "sslmode=maybe"),
        ("storage:\n  postgres: {url_file: /nonexistent/pg.url}\n" + minimal, "storage.postgres.url_file", "cannot be read"),
        ("storage:\n  postgres: {url_env: PG_OK, url_file: /etc/hostname}\n" + minimal, "storage.postgres.url_env", "not both"),
        ("storage:\n  postgres: {url_env: PG_OK, pool_size: 0}\n" + minimal, "storage.postgres.pool_size", "between 1 and 100"),
        ("storage:\n  postgres: {url_env: PG_OK, advertise_url: 10.0.0.7}\n" + minimal, "storage.postgres.advertise_url", "http://"),
        ("storage:\n  postgress: {url_env: PG_OK}\n" + minimal, "storage.postgress", "did you mean postgres?"),
    ])
    func badInputNamesTheKeyAndTheFix(yaml: String, path: String, fix: String) {
        let found = problems(yaml)
        #expect(found.contains { $0.path == path && $0.message.contains(fix) }, "got: \(found.map(\.description))")
    }

    @Test func everyErrorIsListedInOnePass() {
        let yaml = """
            listen: nowhere
            epoch_interval_seconds: 0
            tokens:
              admin: inline-secret-value-here
            endpoints:
              - provider: Bad Provider
                model: nomodel
                base_url: ftp://x
                quantization: fp7
              - provider: ok
                model: a/b
            """
        let found = problems(yaml)
        let paths = Set(found.map(\.path))
        #expect(
            paths.isSuperset(of: [
                "listen", "epoch_interval_seconds", "tokens.admin", "endpoints[0].provider", "endpoints[0].model",
                "endpoints[0].base_url", "endpoints[0].quantization", "endpoints[1].base_url",
            ]), "got: \(found.map(\.description))")
        // Problems carry their line, so an editor can jump to them.
        #expect(found.first { $0.path == "endpoints[0].quantization" }?.line == 9)
        #expect(found.first { $0.path == "endpoints[0].quantization" }!.description.hasPrefix("rankd.yaml:9: endpoints[0].quantization:"))
    }

    @Test func policyProblemsAreCollectedWithPaths() {
        let problems = ProblemList()
        _ = PolicyLoader.parse(
            yaml: """
                weights: {tool_call_success: 0, reliability: 0, throughput: 0, latency: 0, benchmark: 0}
                windows: {short_seconds: 7200, long_seconds: 3600}
                demotion:
                  failure_outlier: {z_critical: high}
                  latency_outlier: {min_peers: 1}
                reliability: {ignored_outcomes: [http_429, wrong_tool]}
                fast_path: {burst_failure_rate: 2}
                """, file: "policy.yaml", problems: problems)
        let paths = Set(problems.problems.map(\.path))
        #expect(
            paths == [
                "weights", "windows.short_seconds", "demotion.failure_outlier.z_critical", "demotion.latency_outlier.min_peers",
                "reliability.ignored_outcomes[1]", "fast_path.burst_failure_rate",
            ], "got: \(problems.problems.map(\.description))")
    }

    @Test func routingKeysAreCheckedAndNamed() {
        let problems = ProblemList()
        let policy = PolicyLoader.parse(
            yaml: """
                routing: {exploration_floor: 0.7, temperature: 0, insufficient_data: last, cold_start_max_seconds: 15, speed: 1}
                """, file: "policy.yaml", problems: problems)
        let found = Dictionary(problems.problems.map { ($0.path, $0.description) }) { a, _ in a }
        #expect(
            Set(found.keys) == ["routing.exploration_floor", "routing.temperature", "routing.insufficient_data", "routing.speed"],
            "got: \(problems.problems.map(\.description))")
        #expect(found["routing.insufficient_data"]?.contains("with_ok") == true, "the fix names the choices")
        #expect(policy.routing.coldStartMaxSeconds == 15, "the valid key of the same block is kept")
    }

    @Test func benchmarkRowsAreCheckedWithLineNumbers() {
        let problems = ProblemList()
        let scores = BenchmarkLoader.parse(
            csv: """
                endpoint_id,benchmark,score,source,date
                a:x/y,tau2,0.5,"eval, run 1",2026-11-01
                b:x/y,tau2,0.5,eval,2026-11-01
                a:x/y,tau2,85,eval,2026-11-01
                a:x/y,tau2,0.7,eval,last week
                """, file: "bench.csv", endpointIDs: ["a:x/y"], problems: problems)
        #expect(scores.count == 1)
        #expect(scores[0].source == "eval, run 1")
        #expect(problems.problems.map { "\($0.line!) \($0.path)" } == ["3 endpoint_id", "4 score", "5 date"])
    }
}
