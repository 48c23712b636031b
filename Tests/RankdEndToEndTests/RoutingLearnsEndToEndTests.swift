import Foundation
import RankdTestKit
import Testing

/// Routing that learns, as a gateway meets it (about 3.5 minutes): a fresh `rankd serve` with
/// the default policy probing five providers of `rankd mock-provider` that differ in speed (the
/// alphabetically first, aardvark, is the slowest; ember breaks a quarter of its tool calls with
/// HTTP 200 from the start), and `scripts/gateway-loop.py` as the gateway: it follows
/// `POST /v1/route`, calls the endpoint named first, falls back on errors and invalid tool
/// calls, and posts one telemetry record per attempt. Nothing in the policy is shortened: the cold
/// start, the warm-up epochs and the outlier checks are the defaults.
@Suite struct RoutingLearnsEndToEndTests {
    static let model = "acme/tools-70b"
    static let providers = ["aardvark", "brisk", "cobalt", "dune", "ember"]

    @Test(.enabled(if: Needs.programs("python3"), "needs python3 (the gateway loop)"))
    func aFreshDaemonSpreadsByEvidenceDemotesTheBrokenOneAndFavoursTheFastest_3min() async throws {
        let binary = RepositoryFiles.rankdExecutable
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build rankd first (swift build --build-tests)")
        try #require(ChildProcess.isInstalled("python3"), "the gateway loop needs python3")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try """
        providers:
          aardvark: {ttft_ms: 900, tokens_per_second: 40, jitter: 0.1}
          brisk: {ttft_ms: 150, tokens_per_second: 200, jitter: 0.1}
          cobalt: {ttft_ms: 350, tokens_per_second: 110, jitter: 0.1}
          dune: {ttft_ms: 500, tokens_per_second: 80, jitter: 0.1}
          ember: {ttft_ms: 250, tokens_per_second: 150, jitter: 0.1, schema_violation: 0.25}
        """.write(toFile: dir.file("scenario.yaml"), atomically: true, encoding: .utf8)
        let mock = try await DaemonProcess([
            "mock-provider", "--listen", "127.0.0.1:0", "--scenario", dir.file("scenario.yaml"), "--probes",
            RepositoryFiles.path("scoring/probes"),
        ])
        defer { mock.process.terminate() }
        let endpoints = Self.providers.map { provider in
            """
              - {provider: \(provider), model: \(Self.model), base_url: "\(mock.baseURL)/\(provider)/v1", upstream_model: m,
                 supported_parameters: [tools, tool_choice], pricing: {prompt_per_million_usd: 0.5, completion_per_million_usd: 0.8}}
            """
        }
        try """
        epoch_interval_seconds: 300
        policy_file: \(RepositoryFiles.path("scoring/policy.yaml"))
        probes_dir: \(RepositoryFiles.path("scoring/probes"))
        tokens:
          ingest: {env: RANKD_INGEST_TOKEN}
        endpoints:
        \(endpoints.joined(separator: "\n"))
        """.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
        let token = "ingest-token-for-the-routing-test-0123"
        let daemon = try await DaemonProcess(
            ["serve", "--config", dir.file("rankd.yaml"), "--listen", "127.0.0.1:0", "--data-dir", dir.file("data")],
            environment: ["RANKD_INGEST_TOKEN": token])
        defer { daemon.process.terminate() }
        #expect(await daemon.waitUntilReady())

        let run = try await HeavyWork.run {
            try await ChildProcess.runOffPool(
                "python3",
                [
                    RepositoryFiles.path("scripts/gateway-loop.py"), "--rankd", daemon.baseURL, "--token", token, "--model", Self.model,
                    "--duration", "180", "--workers", "8",
                ], timeoutSeconds: 240)
        }
        let readyz = try String(contentsOf: URL(string: "\(daemon.baseURL)/readyz")!, encoding: .utf8)
        _ = await daemon.stop()
        print("gateway loop (180 s):\n\(run.output)")
        #expect(run.status == 0 && !run.timedOut)
        let line = try #require(run.output.split(separator: "\n").last, "no report")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(run.output)")
        let requests = try #require(report["requests"] as? Int)
        #expect(requests >= 1_000, "a steady stream: \(requests) requests in 180 s")

        // The cold start reached its informed epoch, and the log said so.
        #expect(readyz.contains(#""phase":"informed""#), "\(readyz)")
        #expect(daemon.logs.contains("cold start: first informed epoch published"), "\(daemon.logs.suffix(2_000))")

        // In every 30 s window after the first 60 s, brisk (the fastest clean one) serves at least 60%.
        let buckets = try #require(report["buckets"] as? [[String: Any]])
        func served(_ provider: String, from: Int, to: Int) -> (Int, Int) {
            let inRange = buckets.filter { ($0["start_seconds"] as? Int).map { $0 >= from && $0 < to } ?? false }
            let total = inRange.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) }
            let mine = inRange.reduce(0) { $0 + (($1["served"] as? [String: Int])?[provider] ?? 0) }
            return (mine, total)
        }
        for start in stride(from: 60, to: 180, by: 30) {
            let (brisk, total) = served("brisk", from: start, to: start + 30)
            #expect(total > 0 && Double(brisk) >= 0.6 * Double(total), "brisk served \(brisk) of \(total) in [\(start), \(start + 30)) s")
        }
        // Every healthy provider keeps at least half the exploration floor (0.02) over the run.
        for provider in ["aardvark", "brisk", "cobalt", "dune"] {
            let (mine, total) = served(provider, from: 0, to: 1_000)
            #expect(Double(mine) >= 0.01 * Double(total), "\(provider) served \(mine) of \(total)")
        }
        // The slowest is not favoured: after the first minute it serves less than an equal fifth.
        let (slow, afterMinute) = served("aardvark", from: 60, to: 1_000)
        #expect(Double(slow) < 0.1 * Double(afterMinute), "aardvark served \(slow) of \(afterMinute) after 60 s")

        // ember is demoted within 15 s of its first live failure, then serves under 2%.
        let firstFailure = try #require((report["first_failure_seconds"] as? [String: Double])?["ember"], "ember never failed")
        let demotedAt = try #require((report["demoted_at_seconds"] as? [String: Double])?["ember"], "ember was never demoted")
        #expect(demotedAt - firstFailure <= 15, "ember demoted \(demotedAt - firstFailure) s after its first live failure")
        let after = try #require((report["after_demotion"] as? [String: [String: Int]])?["ember"])
        #expect(Double(after["served"] ?? 0) < 0.02 * Double(after["requests"] ?? 1), "ember after its demotion: \(after)")
        print(
            "routing e2e: \(requests) requests, \(report["user_failures"] ?? "?") failed for users; ember first failed at \(firstFailure) s, "
                + "demoted at \(demotedAt) s; user TTFT p50 \(report["user_ttft_ms_p50"] ?? "?") ms")
    }
}
