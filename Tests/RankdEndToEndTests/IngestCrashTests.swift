import Foundation
import GRDB
import RankdCore
import RankdDaemonTestKit
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `rankd serve` killed with SIGKILL while a client posts telemetry batches, restarted, and the
/// unacknowledged batches retried (as a gateway does): every acknowledged record is counted
/// exactly once, and so is every retried one.
@Suite struct IngestCrashTests {
    static let token = "ingest-token-for-the-crash-test"
    static let model = "meta-llama/llama-3.3-70b-instruct"

    /// `rankd serve` on an ephemeral port, without probing.
    static func daemon(config: String, dataDir: String) async throws -> DaemonProcess {
        try await DaemonProcess(
            ["serve", "--config", config, "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--no-probe"],
            environment: ["RANKD_INGEST_TOKEN": token])
    }

    static func batch(_ name: String, size: Int) -> Data {
        let now = RFC3339.format(Timestamp(secondsSince1970: Date().timeIntervalSince1970))
        let lines = (0..<size).map { index in
            """
            {"request_id":"\(name)-\(index)","timestamp":"\(now)","model":"\(model)","provider":"\(index % 2 == 0 ? "alpha" : "beta")",\
            "status":200,"ttft_ms":200,"latency_ms":900,"completion_tokens":60,"tools_offered":true,"tool_call_valid":true}
            """
        }
        return Data(lines.joined(separator: "\n").utf8)
    }

    /// Posts a batch; nil when the daemon did not answer (killed mid-request).
    static func post(_ body: Data, port: Int) async -> (accepted: Int, duplicates: Int)? {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/telemetry")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.timeoutInterval = 10
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        guard let (data, response) = try? await URLSession.shared.data(for: request), (response as? HTTPURLResponse)?.statusCode == 200,
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (json["accepted"] as? Int ?? 0, json["duplicates"] as? Int ?? 0)
    }

    @Test func acknowledgedRecordsSurviveSigkillExactlyOnce() async throws {
        try await HeavyWork.run {
            try #require(
                FileManager.default.isExecutableFile(atPath: RepositoryFiles.rankdExecutable),
                "build rankd first (swift build --build-tests)")
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let config = dir.file("rankd.yaml")
            try """
            tokens:
              ingest: {env: RANKD_INGEST_TOKEN}
            endpoints:
              - {provider: alpha, model: \(Self.model), base_url: "http://127.0.0.1:9/alpha/v1", upstream_model: m}
              - {provider: beta, model: \(Self.model), base_url: "http://127.0.0.1:9/beta/v1", upstream_model: m}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let data = dir.file("data")
            let size = 250
            var generator = SeededGenerator(seed: 42)
            var acknowledged: [String: Data] = [:]
            var unacknowledged: [String: Data] = [:]
            let cycles = 5

            for cycle in 0..<cycles {
                let daemon = try await Self.daemon(config: config, dataDir: data)
                let port = daemon.port
                // Kill at a seeded moment, 300-1,300 ms in, whatever is in flight.
                let delay = Int(300 + generator.uniform() * 1_000)
                let killer = Task.detached {
                    try await Task.sleep(for: .milliseconds(delay))
                    daemon.kill()
                }
                var index = 0
                while true {
                    let name = "c\(cycle)-b\(index)"
                    let body = Self.batch(name, size: size)
                    index += 1
                    if let answer = await Self.post(body, port: port) {
                        #expect(answer.accepted == size, "a fresh batch is accepted whole")
                        acknowledged[name] = body
                        // A gateway's pace, not a flood: the suites beside this one share the disk.
                        try await Task.sleep(for: .milliseconds(20))
                    } else {
                        unacknowledged[name] = body
                        break
                    }
                }
                _ = try? await killer.value
            }

            // Restart, retry what was never acknowledged (some of it may have been committed before the kill).
            let daemon = try await Self.daemon(config: config, dataDir: data)
            var retriedDuplicates = 0
            for (_, body) in unacknowledged.sorted(by: { $0.key < $1.key }) {
                let answer = try #require(await Self.post(body, port: daemon.port))
                #expect(answer.accepted + answer.duplicates == size)
                retriedDuplicates += answer.duplicates
            }
            // Replaying an acknowledged batch counts nothing.
            if let (_, body) = acknowledged.first {
                let answer = try #require(await Self.post(body, port: daemon.port))
                #expect(answer.duplicates == size && answer.accepted == 0)
            }
            await daemon.stop()

            let expected = (acknowledged.count + unacknowledged.count) * size
            let (stored, keys) = try await DatabaseQueue(path: "\(data)/state.db").read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source = 'live') + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)") ?? 0,
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ingest_keys") ?? 0
                )
            }
            print(
                "crash test: \(cycles) SIGKILL cycles, \(acknowledged.count) batches acknowledged, \(unacknowledged.count) cut by the kill and retried (\(retriedDuplicates) of their records had been committed before the kill); \(stored) live requests stored, \(expected) expected"
            )
            #expect(acknowledged.count >= cycles, "each cycle acknowledged at least one batch")
            #expect(stored == expected, "every record counted exactly once")
            #expect(keys == expected)
        }
    }
}
