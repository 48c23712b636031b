import Foundation
import GRDB
import RankdCore
import RankdDaemonTestKit
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The data directory fills up under `rankd serve` (a 3 MB tmpfs, mounted by the test: it needs
/// root, as CI has): telemetry is refused with 503 and nothing acknowledged is lost, the log says
/// what is wrong, `/readyz` is false and names the failing writes, the rankings keep being served
/// from memory; when the file system grows again, rankd recovers without a restart.
@Suite struct DiskFaultTests {
    static let token = "ingest-token-for-the-disk-fault-test"
    static let model = "acme/tools-1"

    @Test(.enabled(if: Needs.root && Needs.programs("mount", "umount"), "needs root, to mount a small tmpfs"))
    func fullDataDirectoryRefusesCleanlyAndRecoversWithoutRestart() async throws {
        try await HeavyWork.run {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let mountPoint = dir.file("data")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            let mount = try ChildProcess.run("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint])
            try #require(mount.status == 0, "this test mounts a small tmpfs and needs root: \(mount.output)")
            defer { _ = try? ChildProcess.run("umount", ["-l", mountPoint]) }
            try """
            epoch_interval_seconds: 5
            tokens:
              ingest: {env: RANKD_INGEST_TOKEN}
            endpoints:
              - {provider: alpha, model: \(Self.model), base_url: "http://127.0.0.1:9/alpha/v1", upstream_model: m}
              - {provider: beta, model: \(Self.model), base_url: "http://127.0.0.1:9/beta/v1", upstream_model: m}
            """.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
            let daemon = try await DaemonProcess(
                ["serve", "--config", dir.file("rankd.yaml"), "--listen", "127.0.0.1:0", "--data-dir", mountPoint, "--no-probe"],
                environment: ["RANKD_INGEST_TOKEN": Self.token])
            defer { daemon.process.terminate() }
            #expect(await daemon.waitUntilReady())
            let base = daemon.baseURL

            // Fill the file system with telemetry until rankd refuses a batch.
            var accepted = 0
            var refused: (name: String, status: Int, retryAfter: String?, body: String)?
            for index in 0..<400 where refused == nil {
                let answer = try await Self.post(Self.batch("fill-\(index)"), to: base)
                if answer.status == 200 {
                    accepted += 1_000
                } else {
                    refused = ("fill-\(index)", answer.status, answer.retryAfter, answer.body)
                }
            }
            let refusal = try #require(refused, "3 MB never filled up")
            #expect(refusal.status == 503, "\(refusal)")
            #expect(refusal.retryAfter == "5")
            #expect(refusal.body.contains("storage_unavailable") && refusal.body.contains("nothing was accepted"))

            let readiness = try await Self.get("\(base)/readyz")
            #expect(readiness.status == 503)
            #expect(readiness.body.contains(#""storage_errors""#) && readiness.body.contains("telemetry"), "\(readiness.body)")
            let rankings = try await Self.get("\(base)/v1/rankings/\(Self.model)")
            #expect(rankings.status == 200, "reads go on from memory")
            #expect(daemon.logs.contains("cannot write state.db"), "the log says what is wrong")

            // Space returns: the refused batch is accepted on retry, /readyz is true again.
            let grow = try ChildProcess.run("mount", ["-o", "remount,size=64m", mountPoint])
            #expect(grow.status == 0, "\(grow.output)")
            let retry = try await Self.post(Self.batch(refusal.name), to: base)
            #expect(retry.status == 200, "\(retry)")
            if retry.status == 200 { accepted += 1_000 }
            #expect(try await Self.get("\(base)/readyz").status == 200)
            #expect(daemon.logs.contains("writable again"))
            _ = await daemon.stop()

            let stored = try await DatabaseQueue(path: "\(mountPoint)/state.db").read { db in
                try Int.fetchOne(db, sql: "SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source = 'live') + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)") ?? 0
            }
            print("disk full (tmpfs 3 MB): \(accepted - 1_000) records accepted before the refusal, then 503 + Retry-After 5; \(stored) stored after recovery (\(accepted) expected)")
            #expect(stored == accepted, "every acknowledged record kept, none twice")
        }
    }

    static func batch(_ name: String) -> Data {
        let now = Date().timeIntervalSince1970
        return Data(
            (0..<1_000).map {
                #"{"request_id":"\#(name)-\#($0)","timestamp":\#(now),"model":"\#(model)","provider":"\#($0 % 2 == 0 ? "alpha" : "beta")","status":200,"ttft_ms":\#(200 + $0 % 300),"latency_ms":900,"completion_tokens":60}"#
            }.joined(separator: "\n").utf8)
    }

    static func post(_ body: Data, to base: String) async throws -> (status: Int, retryAfter: String?, body: String) {
        var request = URLRequest(url: URL(string: "\(base)/v1/telemetry")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "Retry-After"), String(decoding: data, as: UTF8.self))
    }

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
