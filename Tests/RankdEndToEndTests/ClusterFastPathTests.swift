import Foundation
import RankdTestKit
import Testing

/// The fast path with replicas (the suite's serial, PostgreSQL-gated tests).
extension ClusterEndToEndTests {
    /// Seconds from posting five hard failures of one endpoint (to `post`'s replica) until `read`'s
    /// replica serves that endpoint demoted.
    static func fastPathSeconds(post: String, read: String, tag: String) async throws -> Double {
        let now = Date().timeIntervalSince1970
        let healthy = (0..<40).map { index in
            "{\"request_id\":\"\(tag)-ok-\(index)\",\"timestamp\":\(now - 1),\"model\":\"m/one\",\"provider\":\"\(["alpha", "beta", "gamma"][index % 3])\",\"status\":200,\"ttft_ms\":300,\"latency_ms\":1200}"
        }
        _ = try await request("\(post)/v1/telemetry", method: "POST", token: ingest, body: Data(healthy.joined(separator: "\n").utf8))
        try await Task.sleep(for: .seconds(3))
        let failures = (0..<5).map { index in
            "{\"request_id\":\"\(tag)-fail-\(index)\",\"timestamp\":\(Date().timeIntervalSince1970),\"model\":\"m/one\",\"provider\":\"alpha\",\"status\":500,\"latency_ms\":100}"
        }
        let sent = ContinuousClock.now
        let (status, _, _) = try await request("\(post)/v1/telemetry", method: "POST", token: ingest, body: Data(failures.joined(separator: "\n").utf8))
        #expect(status == 200)
        while ContinuousClock.now - sent < .seconds(20) {
            let rankings = try await json("\(read)/v1/rankings/m/one")
            let alpha = (rankings["endpoints"] as? [[String: Any]] ?? []).first { $0["endpoint_id"] as? String == "alpha:m/one" }
            if alpha?["status"] as? String == "demoted" { return (ContinuousClock.now - sent) / .milliseconds(1) / 1000 }
            try await Task.sleep(for: .milliseconds(10))
        }
        return .infinity
    }

    /// The fast path with replicas: hard failures posted to a follower reach the leader through
    /// PostgreSQL, and the follower serves the demotion within 2 s more than one node takes.
    @Test func fastPathThroughAFollowerIsWithinTwoSecondsOfOneNode_about10s() async throws {
        let single = try TemporaryDirectory()
        defer { single.remove() }
        try "ingest-token-for-the-cluster-test".write(toFile: single.file("ingest.token"), atomically: true, encoding: .utf8)
        var yaml = """
            listen: "127.0.0.1:0"
            data_dir: \(single.file("data"))
            epoch_interval_seconds: 300
            tokens:
              ingest: {file: \(single.file("ingest.token"))}
            endpoints:

            """
        for provider in ["alpha", "beta", "gamma"] {
            yaml += "  - {provider: \(provider), model: m/one, base_url: \"http://127.0.0.1:9/\(provider)/v1\", upstream_model: one}\n"
        }
        try yaml.write(toFile: single.file("rankd.yaml"), atomically: true, encoding: .utf8)
        let node = try await DaemonProcess(["serve", "--config", single.file("rankd.yaml")])
        #expect(await node.waitUntilReady())
        let alone = try await Self.fastPathSeconds(post: node.baseURL, read: node.baseURL, tag: "single")
        _ = await node.stop()

        let cluster = try await Cluster(providers: ["alpha", "beta", "gamma"])
        defer { cluster.dir.remove() }
        var leader: (slot: Int, epochID: Int64)?
        for _ in 0..<100 where leader == nil {
            leader = await cluster.leader()
            if leader == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let follower = try #require(cluster.base(((leader?.slot ?? 0) + 1) % 3))
        let replicated = try await Self.fastPathSeconds(post: follower, read: follower, tag: "cluster")
        await cluster.stopAll()
        print(
            "fast path: one node served the demotion \(String(format: "%.2f", alone)) s after the failures were posted; "
                + "three replicas (posted to and read from a follower) \(String(format: "%.2f", replicated)) s; "
                + "difference \(String(format: "%+.2f", replicated - alone)) s")
        #expect(alone < 5)
        #expect(replicated - alone < 2)
    }
}
