import Foundation
import RankdTestKit
import Testing

/// The Python client of docs/integration.md, run as a gateway would run it against `rankd serve`:
/// it polls with ETag (a 304 the second time), reads the same order from `rankings.db` when the
/// HTTP API is down, and posts telemetry that rankd accepts once.
@Suite struct IntegrationGuideTests {
    @Test(.enabled(if: Needs.programs("python3"), "needs python3 (the guide's client)"))
    func theGuidesPythonClientReadsRanksBothWaysAndPostsTelemetry() async throws {
        let binary = RepositoryFiles.rankdExecutable
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build rankd first (swift build --build-tests)")
        try #require(ChildProcess.isInstalled("python3"), "the example needs python3")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let token = "ingest-token-for-the-guide-test-0123"
        let daemon = try await DaemonProcess(
            ["serve", "--config", RepositoryFiles.path("deploy/rankd.example.yaml"), "--listen", "127.0.0.1:0", "--data-dir", dir.path],
            environment: ["RANKD_ADMIN_TOKEN": "admin-token-for-the-guide-test-0123", "RANKD_INGEST_TOKEN": token])
        let ready = await daemon.waitUntilReady()
        #expect(ready)
        let model = "meta-llama/llama-3.3-70b-instruct"
        let run = try await ChildProcess.runOffPool(
            "python3",
            [
                RepositoryFiles.path("docs/examples/gateway_client.py"), "--rankd", daemon.baseURL, "--database", dir.file("rankings.db"),
                "--token", token, "--model", model, "--provider", "deepinfra",
            ], timeoutSeconds: 60)
        let metrics = try String(contentsOf: URL(string: "\(daemon.baseURL)/metrics")!, encoding: .utf8)
        _ = await daemon.stop()
        #expect(run.status == 0, "\(run.output)")
        let line = try #require(run.output.split(separator: "\n").last, "no output")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(run.output)")

        let order = report["http_order"] as? [String] ?? []
        #expect(order.count == 4, "\(report)")
        #expect(Set(order).contains("deepinfra:\(model)") && Set(order).contains("self-hosted-vllm"), "\(order)")
        print("docs/examples/gateway_client.py: \(line)")
        #expect(report["second_poll_order"] as? [String] == order)
        // 400 picks by share: each endpoint first about share × 400 times (within 5 standard
        // deviations; the example's benchmark scores make the shares differ).
        let shares = report["shares"] as? [String: Double] ?? [:]
        #expect(shares.count == 4 && abs(shares.values.reduce(0, +) - 1) < 1e-5, "\(shares)")
        let picked = report["picked_first"] as? [String: Int] ?? [:]
        for (endpoint, share) in shares {
            let expected = 400 * share
            let tolerance = 5 * (400 * share * (1 - share)).squareRoot() + 2
            #expect(abs(Double(picked[endpoint] ?? 0) - expected) <= tolerance, "\(endpoint): \(picked) for shares \(shares)")
        }
        #expect(report["database_order"] as? [String] == order, "rankings.db holds the order the API serves")
        #expect(report["sources"] as? [String: Int] == ["http": 1, "not_modified": 1, "database": 0, "stale": 0])
        #expect(report["telemetry"] as? [String: Int] == ["accepted": 25, "duplicates": 1, "rejected": 0, "retries": 0])
        #expect(metrics.contains(#"rankd_ingest_records_total{api="telemetry",result="accepted"} 25"#), "rankd counted 25 records")
    }
}
