import Foundation
import Hummingbird
import HummingbirdTesting
import RankdConfig
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdServer
import RankdTestKit
import Testing

/// `POST /v1/admin/reload` on a daemon built from real files: applied whole (registry, policy,
/// tokens, an epoch at once) or not at all (every problem listed, nothing changed).
@Suite struct ReloadHTTPTests {
    static let admin = "admin-token-0123456789abcdef"
    static let newAdmin = "admin-token-fedcba9876543210"

    /// A configuration directory: rankd.yaml naming `providers` of model `m/one`, a policy file
    /// with `toolWeight`, the admin token in a file.
    static func write(_ dir: TemporaryDirectory, providers: [String], toolWeight: Double = 0.35, adminToken: String = admin, extra: String = "")
        throws
    {
        try adminToken.write(toFile: dir.file("admin.token"), atomically: true, encoding: .utf8)
        chmod(dir.file("admin.token"), 0o600)
        try "version: 1\nweights:\n  tool_call_success: \(toolWeight)\n".write(toFile: dir.file("policy.yaml"), atomically: true, encoding: .utf8)
        var yaml = """
            listen: "127.0.0.1:0"
            data_dir: \(dir.file("data"))
            policy_file: policy.yaml
            tokens:
              admin: {file: \(dir.file("admin.token"))}
            \(extra)
            endpoints:

            """
        for provider in providers {
            yaml += "  - {provider: \(provider), model: m/one, base_url: \"http://127.0.0.1:9/\(provider)/v1\", upstream_model: one}\n"
        }
        try yaml.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
    }

    /// A daemon built from the files `write` leaves (fast and steady), reloadable from them.
    static func daemon(_ dir: TemporaryDirectory, clock: ManualClock) throws -> (RankdApplication.App, Ranker) {
        try write(dir, providers: ["fast", "steady"])
        let loaded = try ConfigurationLoader.load(path: dir.file("rankd.yaml"))
        return try RankdApplication.build(loaded, clock: clock, logger: quietLogger, epochLoop: false, configurationFile: dir.file("rankd.yaml"))
    }

    static func reload(_ client: some TestClientProtocol, token: String = admin) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: "/v1/admin/reload", method: .post, headers: [.authorization: "Bearer \(token)"]) {
            ($0.status, try json($0.body))
        }
    }

    @Test func aReloadAddsAnEndpointChangesThePolicyAndTheTokensAndPublishesAtOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let (app, ranker) = try Self.daemon(dir, clock: clock)
        for provider in ["fast", "steady"] { await ranker.record(Build.observations("\(provider):m/one", count: 40, end: clock.now())) }
        let first = try await ranker.computeAndPublish(.scheduled)
        try await app.test(.router) { client in
            try Self.write(dir, providers: ["fast", "steady", "slow"], toolWeight: 0.5, adminToken: Self.newAdmin)
            let (status, body) = try await Self.reload(client)
            #expect(status == .ok, "\(body)")
            #expect(body["added"] as? [String] == ["slow:m/one"])
            #expect(body["removed"] as? [String] == [])
            #expect(body["policy_changed"] as? Bool == true)
            #expect(body["epoch_id"] as? Int == Int(first.id) + 1)
            let rankings = try await client.execute(uri: "/v1/rankings/m/one", method: .get) { try json($0.body) }
            let epoch = rankings["epoch"] as? [String: Any]
            #expect(epoch?["trigger"] as? String == "reload")
            let hash = try #require(epoch?["policy_hash"] as? String)
            #expect(hash != first.policyHash && hash == body["policy_hash"] as? String)
            let entries = rankings["endpoints"] as? [[String: Any]] ?? []
            #expect(entries.count == 3)
            let slow = entries.first { $0["endpoint_id"] as? String == "slow:m/one" }
            #expect(slow?["status"] as? String == "insufficient_data")
            // The new policy is on record under its hash (for history and replay).
            #expect(try await client.execute(uri: "/v1/policies/\(hash)", method: .get) { $0.status } == .ok)
            // The new admin token is the one in force.
            #expect(try await Self.reload(client, token: Self.admin).0 == .unauthorized)
            #expect(try await Self.reload(client, token: Self.newAdmin).0 == .ok)
            // The route answer knows the new endpoint.
            let route = try await client.execute(
                uri: "/v1/route", method: .post, body: ByteBuffer(string: #"{"model": "m/one", "provider": {"only": ["slow"]}}"#)
            ) { try json($0.body) }
            #expect("\(route)".contains("slow:m/one"), "\(route)")
        }
        #expect(ranker.metrics.exposition().contains("rankd_config_reloads_total 2"))
        // The ranker ranks the registry as reloaded.
        #expect(ranker.registry.map(\.id) == ["fast:m/one", "slow:m/one", "steady:m/one"])
    }

    @Test func aBrokenFileOrARestartOnlyChangeChangesNothingAndListsEveryProblem() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let (app, ranker) = try Self.daemon(dir, clock: clock)
        let first = try await ranker.computeAndPublish(.scheduled)
        try await app.test(.router) { client in
            // Two problems in two files: both listed, with file, line and key.
            try Self.write(dir, providers: ["fast", "steady", "broken"])
            try "version: 1\nweights:\n  tool_call_succes: 0.5\n".write(toFile: dir.file("policy.yaml"), atomically: true, encoding: .utf8)
            var yaml = try String(contentsOfFile: dir.file("rankd.yaml"), encoding: .utf8)
            yaml = yaml.replacingOccurrences(of: "http://127.0.0.1:9/broken/v1", with: "ftp://broken")
            try yaml.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
            let (status, body) = try await Self.reload(client)
            #expect(status == .unprocessableContent)
            let problems = body["problems"] as? [String] ?? []
            #expect(problems.count == 2, "\(problems)")
            #expect(problems.contains { $0.contains("policy.yaml:3: weights.tool_call_succes") }, "\(problems)")
            #expect(problems.contains { $0.contains("rankd.yaml:") && $0.contains("endpoints[2].base_url") }, "\(problems)")

            // What only a restart applies is refused, named, with the fix.
            try Self.write(dir, providers: ["fast", "steady"], extra: "epoch_interval_seconds: 60")
            let (again, refused) = try await Self.reload(client)
            #expect(again == .unprocessableContent)
            #expect((refused["problems"] as? [String])?.first?.contains("epoch_interval_seconds: changed from 300.0 to 60.0") == true, "\(refused)")

            // Nothing changed: the same epoch, the same registry, the old token.
            let rankings = try await client.execute(uri: "/v1/rankings/m/one", method: .get) { try json($0.body) }
            #expect((rankings["epoch"] as? [String: Any])?["id"] as? Int == Int(first.id))
            #expect((rankings["endpoints"] as? [[String: Any]])?.count == 2)
        }
        #expect(ranker.metrics.exposition().contains("rankd_config_reload_failures_total 2"))
    }

    @Test func aServerWithoutAConfigurationFileSaysThereIsNothingToReRead() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (app, _) = try RankdApplication.build(testConfiguration(dir), clock: ManualClock(), logger: quietLogger, epochLoop: false)
        try await app.test(.router) { client in
            let (status, body) = try await Self.reload(client, token: "admin-token-0123456789")
            #expect(status == .conflict, "\(body)")
        }
    }
}
