import Foundation
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Provider API keys and rankd's own tokens never leave rankd except where they belong (the keys in
/// the `Authorization` header to their provider): not in a log line at trace level, not in either
/// database or its WAL, not in any API answer, not on the metrics page, not in the dashboard.
@Suite struct SecretsTests {
    static let keys = ["sk-alpha-7Hq2LwX9vN4pR8sT1kM5", "sk-bravo-Zc3Yd6Fe9Gh2Jk5Lm8Np"]
    static let ingestToken = "ingest-secret-Qw4Er7Ty0Ui3Op6As9Df"
    static let adminToken = "admin-secret-Gh1Jk4Lz7Xc0Vb3Nm6Qw"
    static let model = "acme/tools-1"

    @Test func keysAndTokensAppearInNoLogDatabaseAnswerOrMetric() async throws {
        try await HeavyWork.run {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            // The mock providers answer 401 without the right key: probes that pass prove rankd sent it.
            try """
            providers:
              alpha: {ttft_ms: 10, tokens_per_second: 3000, api_key: \(Self.keys[0])}
              bravo: {ttft_ms: 10, tokens_per_second: 3000, api_key: \(Self.keys[1])}
            """.write(toFile: dir.file("scenario.yaml"), atomically: true, encoding: .utf8)
            let mock = try await DaemonProcess([
                "mock-provider", "--listen", "127.0.0.1:0", "--scenario", dir.file("scenario.yaml"), "--probes",
                RepositoryFiles.path("scoring/probes"),
            ])
            defer { mock.process.terminate() }
            try RepositoryFiles.writePolicy(
                to: dir.file("policy.yaml"),
                replacing: [
                    "interval_seconds: 60 ": "interval_seconds: 0.2 ", "suspicious_interval_seconds: 15 ": "suspicious_interval_seconds: 0.1 ",
                    "max_per_minute: 6 ": "max_per_minute: 600 ",
                ])
            try """
            epoch_interval_seconds: 5
            policy_file: policy.yaml
            probes_dir: \(RepositoryFiles.path("scoring/probes"))
            tokens:
              ingest: {env: RANKD_INGEST_TOKEN}
              admin: {env: RANKD_ADMIN_TOKEN}
            endpoints:
              - {provider: alpha, model: \(Self.model), base_url: "\(mock.baseURL)/alpha/v1", upstream_model: m,
                 supported_parameters: [tools], api_key_env: ALPHA_API_KEY}
              - {provider: bravo, model: \(Self.model), base_url: "\(mock.baseURL)/bravo/v1", upstream_model: m,
                 supported_parameters: [tools], api_key_env: BRAVO_API_KEY}
            """.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
            let daemon = try await DaemonProcess(
                [
                    "serve", "--config", dir.file("rankd.yaml"), "--listen", "127.0.0.1:0", "--data-dir", dir.file("data"),
                    "--log-level", "trace",
                ],
                environment: [
                    "ALPHA_API_KEY": Self.keys[0], "BRAVO_API_KEY": Self.keys[1], "RANKD_INGEST_TOKEN": Self.ingestToken,
                    "RANKD_ADMIN_TOKEN": Self.adminToken,
                ])
            defer { daemon.process.terminate() }
            #expect(await daemon.waitUntilReady())
            let base = daemon.baseURL

            // Probes with the keys succeed at both providers (so the keys were loaded and sent).
            var metrics = ""
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                metrics = try await Self.call("GET", "\(base)/metrics").text
                if ["alpha", "bravo"].allSatisfy({
                    (DeploymentTests.value(#"rankd_probes_total{provider="\#($0)",outcome="ok"}"#, in: metrics) ?? 0) >= 3
                }) {
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            for provider in ["alpha", "bravo"] {
                #expect(
                    (DeploymentTests.value(#"rankd_probes_total{provider="\#(provider)",outcome="ok"}"#, in: metrics) ?? 0) >= 3,
                    "probes to \(provider) pass with its key: \(metrics)")
            }

            // Every route, with the tokens where they are needed (and a wrong one, which gets logged as refused).
            let now = Date().timeIntervalSince1970
            let record = #"{"request_id": "secret-1", "timestamp": \#(now), "model": "\#(Self.model)", "provider": "alpha", "status": 200}"#
            var answers: [(String, Int, String)] = []
            for (method, path, body, token) in [
                ("GET", "/", nil, nil), ("GET", "/healthz", nil, nil), ("GET", "/readyz", nil, nil),
                ("GET", "/v1/rankings", nil, nil), ("GET", "/v1/rankings/\(Self.model)", nil, nil),
                ("POST", "/v1/route", #"{"model": "\#(Self.model)", "parameters": ["tools"]}"#, nil),
                ("POST", "/v1/telemetry", record, Self.ingestToken), ("POST", "/v1/telemetry", record, "wrong-\(Self.ingestToken)"),
                ("POST", "/v1/admin/recompute", nil, Self.adminToken),
                ("POST", "/v1/admin/overrides", #"{"endpoint_id": "bravo:\#(Self.model)", "action": "pin", "note": "n", "expires_in_seconds": 60}"#,
                 Self.adminToken),
                ("GET", "/v1/overrides?include=ended", nil, nil), ("GET", "/v1/epochs", nil, nil), ("GET", "/v1/epochs/1", nil, nil),
                ("GET", "/v1/history?model=\(Self.model)", nil, nil), ("GET", "/metrics", nil, nil),
            ] as [(String, String, String?, String?)] {
                let answer = try await Self.call(method, base + path, body: body, token: token)
                answers.append(("\(method) \(path)", answer.status, answer.text))
            }
            #expect(answers.filter { $0.1 >= 400 }.map(\.0) == ["POST /v1/telemetry"], "only the wrong token fails: \(answers.map { ($0.0, $0.1) })")
            // The data files while rankd runs (WAL included), then after it stopped (checkpointed).
            var places: [(String, Data)] = []
            func readDataFiles(_ when: String) throws {
                for file in try FileManager.default.contentsOfDirectory(atPath: dir.file("data")) {
                    places.append(("data/\(file) \(when)", try Data(contentsOf: URL(fileURLWithPath: dir.file("data/\(file)")))))
                }
            }
            try readDataFiles("while running")
            _ = await daemon.stop()
            try readDataFiles("after stop")
            let files = places.count

            let logs = daemon.logs
            #expect(logs.split(separator: "\n").count > 20, "trace logging produced lines")
            places += [("the log", Data(logs.utf8))] + answers.map { ("\($0.0) (\($0.1))", Data($0.2.utf8)) }
            #expect(Set(["state.db-wal while running", "state.db after stop", "rankings.db after stop"]).isSubset(of: places.map { String($0.0.dropFirst(5)) }))
            for secret in Self.keys + [Self.ingestToken, Self.adminToken] {
                // Also a distinctive inner part: a secret cut or escaped must not leak either.
                for needle in [secret, String(secret.dropFirst(8).prefix(12))] {
                    let leaks = places.filter { $0.1.range(of: Data(needle.utf8)) != nil }.map(\.0)
                    #expect(leaks.isEmpty, "\(needle) found in \(leaks)")
                }
            }
            print("secrets: 4 secrets searched in the trace log (\(logs.utf8.count) bytes), \(answers.count) answers, \(files) data files (while running and after stop): none found")
        }
    }

    static func call(_ method: String, _ url: String, body: String? = nil, token: String? = nil) async throws -> (status: Int, text: String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
