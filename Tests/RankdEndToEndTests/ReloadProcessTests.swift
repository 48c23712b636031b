import Foundation
import GRDB
import RankdTestKit
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `SIGHUP` on a running `rankd serve` while a gateway posts telemetry and reads rankings: an
/// endpoint added and a weight changed take effect at once; a broken file changes nothing; no
/// read fails and no acknowledged record is lost.
@Suite struct ReloadProcessTests {
    static let ingest = "ingest-token-for-the-reload-test"
    static let admin = "admin-token-for-the-reload-test"

    static func write(_ dir: TemporaryDirectory, providers: [String], toolWeight: Double, policy: String? = nil) throws {
        try (policy ?? "version: 1\nweights:\n  tool_call_success: \(toolWeight)\n").write(
            toFile: dir.file("policy.yaml"), atomically: true, encoding: .utf8)
        var yaml = """
            listen: "127.0.0.1:0"
            data_dir: \(dir.file("data"))
            epoch_interval_seconds: 300
            policy_file: policy.yaml
            tokens:
              ingest: {file: \(dir.file("ingest.token"))}
              admin: {file: \(dir.file("admin.token"))}
            endpoints:

            """
        for provider in providers {
            yaml += "  - {provider: \(provider), model: m/one, base_url: \"http://127.0.0.1:9/\(provider)/v1\", upstream_model: one}\n"
        }
        try yaml.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
    }

    final class Tally: Sendable {
        let acknowledged = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
    }

    static func request(_ url: String, method: String = "GET", token: String? = nil, body: Data? = nil) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    static func rankings(_ base: String) async throws -> [String: Any] {
        let (status, data) = try await request("\(base)/v1/rankings/m/one")
        guard status == 200 else { return [:] }
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    @Test func sighupReloadsUnderIngestAndReadsWithoutAFailedReadOrALostRecord_about4s() async throws {
        let started = ContinuousClock.now
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for (name, token) in [("ingest.token", Self.ingest), ("admin.token", Self.admin)] {
            try token.write(toFile: dir.file(name), atomically: true, encoding: .utf8)
            chmod(dir.file(name), 0o600)
        }
        try Self.write(dir, providers: ["fast", "steady"], toolWeight: 0.35)
        let daemon = try await DaemonProcess(["serve", "--config", dir.file("rankd.yaml"), "--log-format", "json"])
        let base = daemon.baseURL
        #expect(await daemon.waitUntilReady())
        let first = try await Self.rankings(base)
        let firstHash = try #require((first["epoch"] as? [String: Any])?["policy_hash"] as? String, "\(first)")

        // A gateway's traffic: batches of telemetry for the endpoints known throughout, and reads.
        let tally = Tally()
        let poster = Task {
            var batch = 0
            while !tally.stop.load(ordering: .relaxed) {
                let now = ISO8601DateFormatter().string(from: Date())
                let records = (0..<20).map { index in
                    "{\"request_id\":\"reload-\(batch)-\(index)\",\"timestamp\":\"\(now)\",\"model\":\"m/one\",\"provider\":\"\(index % 2 == 0 ? "fast" : "steady")\","
                        + "\"status\":200,\"ttft_ms\":300,\"latency_ms\":1200,\"tools_offered\":true,\"tool_call_valid\":true}"
                }
                batch += 1
                do {
                    let (status, body) = try await Self.request(
                        "\(base)/v1/telemetry", method: "POST", token: Self.ingest, body: Data(records.joined(separator: "\n").utf8))
                    if status == 200, let answer = try JSONSerialization.jsonObject(with: body) as? [String: Any] {
                        tally.acknowledged.add(answer["accepted"] as? Int ?? 0, ordering: .relaxed)
                    } else {
                        tally.failures.withLock { $0.append("ingest \(status): \(String(decoding: body, as: UTF8.self))") }
                    }
                } catch {
                    tally.failures.withLock { $0.append("ingest: \(error)") }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let reader = Task {
            while !tally.stop.load(ordering: .relaxed) {
                do {
                    let (status, _) = try await Self.request("\(base)/v1/rankings/m/one")
                    if status != 200 { tally.failures.withLock { $0.append("read \(status)") } }
                    tally.reads.add(1, ordering: .relaxed)
                } catch {
                    tally.failures.withLock { $0.append("read: \(error)") }
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        try await Task.sleep(for: .seconds(1))

        // An endpoint added and a component weight changed: in force at once, in a new epoch.
        try Self.write(dir, providers: ["fast", "steady", "slow"], toolWeight: 0.5)
        kill(daemon.process.processIdentifier, SIGHUP)
        var reloaded: [String: Any] = [:]
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            reloaded = try await Self.rankings(base)
            if (reloaded["epoch"] as? [String: Any])?["trigger"] as? String == "reload" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let epoch = reloaded["epoch"] as? [String: Any]
        #expect(epoch?["trigger"] as? String == "reload", "\(reloaded)")
        let newHash = try #require(epoch?["policy_hash"] as? String)
        #expect(newHash != firstHash)
        let ids = (reloaded["endpoints"] as? [[String: Any]] ?? []).compactMap { $0["endpoint_id"] as? String }
        #expect(ids.sorted() == ["fast:m/one", "slow:m/one", "steady:m/one"])
        try await Task.sleep(for: .seconds(1))

        // A broken policy file: refused, logged, counted; nothing changes.
        try Self.write(dir, providers: ["fast", "steady"], toolWeight: 0.5, policy: "version: 1\nweights:\n  tool_call_succes: 0.9\n")
        kill(daemon.process.processIdentifier, SIGHUP)
        var refusedLogged = false
        let refusalDeadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < refusalDeadline && !refusedLogged {
            refusedLogged = daemon.logs.contains("configuration reload refused")
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(refusedLogged, "\(daemon.logs.suffix(2_000))")
        #expect(daemon.logs.contains("policy.yaml:3: weights.tool_call_succes"), "\(daemon.logs.suffix(2_000))")
        let after = try await Self.rankings(base)
        #expect((after["epoch"] as? [String: Any])?["policy_hash"] as? String == newHash)
        #expect((after["endpoints"] as? [[String: Any]])?.count == 3)
        let metrics = String(decoding: try await Self.request("\(base)/metrics").1, as: UTF8.self)
        #expect(metrics.contains("rankd_config_reload_failures_total 1"), "\(metrics.split(separator: "\n").filter { $0.contains("reload") })")
        #expect(metrics.contains("rankd_config_reloads_total 1"))
        try await Task.sleep(for: .seconds(1))

        tally.stop.store(true, ordering: .relaxed)
        _ = await poster.value
        _ = await reader.value
        _ = await daemon.stop()
        #expect(daemon.process.terminationStatus == 0, "\(daemon.logs.suffix(2_000))")
        let failures = tally.failures.withLock { $0 }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        let acknowledged = tally.acknowledged.load(ordering: .relaxed)
        #expect(acknowledged > 0 && tally.reads.load(ordering: .relaxed) > 100)
        let state = try DatabaseQueue(
            path: dir.file("data/state.db"),
            configuration: {
                var c = Configuration(); c.readonly = true; return c
            }())
        let stored = try await state.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source = 'live')
                         + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)
                    """) ?? -1
        }
        #expect(stored == acknowledged, "every acknowledged record is stored once")
        print(
            "reload under load: \(tally.reads.load(ordering: .relaxed)) reads, \(acknowledged) records acknowledged and stored, "
                + "0 failures, in \(ContinuousClock.now - started)")
    }
}
