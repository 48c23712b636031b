import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RankdConfig
import RankdCore
import RankdDaemon
import RankdStore
import RankdTestKit
import Testing

/// `POST /v1/telemetry` on a real socket: every input variant gives the documented answer and
/// the minute buckets in state.db hold exactly what was accepted.
@Suite struct IngestHTTPTests {
    static let ingestToken = "ingest-token-0123456789"

    func configuration(_ dir: TemporaryDirectory, maxBodyBytes: Int = 4 << 20, queueRecords: Int = 100_000) -> LoadedConfiguration {
        var loaded = testConfiguration(dir)
        loaded.ingestToken = Self.ingestToken
        loaded.configuration.ingest.maxBodyBytes = maxBodyBytes
        loaded.configuration.ingest.queueRecords = queueRecords
        return loaded
    }

    var auth: HTTPFields { [.authorization: "Bearer \(Self.ingestToken)", .contentType: "application/json"] }
    var ndjson: HTTPFields { [.authorization: "Bearer \(Self.ingestToken)", .contentType: "application/x-ndjson"] }

    static func record(
        _ id: String, provider: String = "fast", at time: Timestamp, status: Int = 200, toolCallValid: Bool? = true, extra: String = ""
    ) -> String {
        let valid = toolCallValid.map { "\($0)" } ?? "null"
        return """
            {"request_id":"\(id)","timestamp":"\(RFC3339.format(time))","model":"\(Build.model)","provider":"\(provider)",\
            "status":\(status),"ttft_ms":250,"latency_ms":1250,"prompt_tokens":900,"completion_tokens":101,\
            "tools_offered":true,"tool_call_valid":\(valid),"finish_reason":"tool_calls"\(extra)}
            """
    }

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8)) as! [String: Any]
    }

    /// Live requests stored in state.db, by endpoint provider.
    func stored(_ dir: TemporaryDirectory) throws -> [String: Int64] {
        let buckets = try StateStore(path: dir.file("state.db")).loadBuckets(sinceMinute: 0).filter { $0.source == .live }
        var totals: [String: Int64] = [:]
        for bucket in buckets { totals[String(bucket.endpointID.prefix { $0 != ":" }), default: 0] += bucket.tally.total }
        return totals
    }

    @Test func everyInputVariantGetsItsDocumentedAnswer() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = SystemClock()
        let (app, ranker) = try RankdApplication.build(
            configuration(dir, maxBodyBytes: 64 * 1024), clock: clock, logger: quietLogger, epochLoop: false)
        try await app.test(.live) { client in
            let now = clock.now()
            // One record.
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: Self.record("r1", at: now))
            ) {
                response in
                #expect(response.status == .ok)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 1)
                #expect(answer["duplicates"] as? Int == 0)
                #expect((answer["rejected"] as? [Any])?.isEmpty == true)
            }
            // An array with a bad record: the good ones are kept, the bad one named.
            let array =
                "[\(Self.record("r2", at: now)), {\"request_id\":\"r3\",\"timestamp\":\"yesterday\"}, \(Self.record("r4", provider: "steady", at: now))]"
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: array)) { response in
                #expect(response.status == .ok)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 2)
                let rejected = answer["rejected"] as! [[String: Any]]
                #expect(rejected.count == 1)
                #expect(rejected.first?["index"] as? Int == 1)
                #expect(rejected.first?["field"] as? String == "timestamp")
            }
            // NDJSON with a line that is not JSON, a content field, an unknown provider, a future and a too-old record.
            let lines = [
                Self.record("n1", at: now),
                "{not json",
                Self.record("n2", at: now, extra: ",\"messages\":[{\"role\":\"user\",\"content\":\"secret\"}]"),
                Self.record("n3", provider: "nobody", at: now),
                "",
                Self.record("n4", at: now.adding(seconds: 600)),
                Self.record("n5", at: now.adding(seconds: -7_200)),
                Self.record("n6", provider: "slow", at: now.adding(seconds: -600), extra: ",\"gateway_region\":\"eu\""),
            ].joined(separator: "\n")
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: ndjson, body: ByteBuffer(string: lines)) { response in
                #expect(response.status == .ok)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 2)
                let rejected = (answer["rejected"] as! [[String: Any]]).map { "\($0["index"]!) \($0["field"]!)" }
                #expect(rejected == ["1 $", "2 messages", "3 provider", "4 timestamp", "5 timestamp"])
                #expect((answer["unknown_endpoints"] as? [String: Int])?["\(Build.model) nobody"] == 1)
                #expect(answer["ignored_fields"] as? [String] == ["gateway_region"])
                #expect(!String(buffer: response.body).contains("secret"), "content is never echoed")
            }
            // Replays are acknowledged and not counted again.
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: auth,
                body: ByteBuffer(string: "[\(Self.record("r1", at: now)), \(Self.record("r5", at: now))]")
            ) { response in
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 1)
                #expect(answer["duplicates"] as? Int == 1)
            }
            // atomic=true: one bad record refuses the batch.
            try await client.execute(
                uri: "/v1/telemetry?atomic=true", method: .post, headers: auth,
                body: ByteBuffer(string: "[\(Self.record("a1", at: now)), {\"request_id\":\"a2\"}]")
            ) { response in
                #expect(response.status == .badRequest)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 0)
            }
            // Not authenticated, wrong token, too large, not JSON, wrong media type: nothing read or kept.
            try await client.execute(uri: "/v1/telemetry", method: .post, body: ByteBuffer(string: Self.record("u1", at: now))) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: [.authorization: "Bearer wrong-token-0123456789"],
                body: ByteBuffer(string: Self.record("u2", at: now))
            ) { #expect($0.status == .unauthorized) }
            let big = "[" + (0..<400).map { Self.record("big\($0)", at: now) }.joined(separator: ",") + "]"
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: big)) {
                #expect($0.status == .contentTooLarge)
            }
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: "[{\"request_id\": ")) {
                response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("invalid_json"))
            }
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: [.authorization: "Bearer \(Self.ingestToken)", .contentType: "text/csv"],
                body: ByteBuffer(string: "a,b")
            ) { #expect($0.status == .unsupportedMediaType) }
        }
        // Exactly what was accepted: fast r1 r2 r5 n1, steady r4, slow n6 (late, in its own minute).
        #expect(try stored(dir) == ["fast": 4, "steady": 1, "slow": 1])
        let late = try StateStore(path: dir.file("state.db")).loadBuckets(sinceMinute: 0).first { $0.endpointID == id("slow") }
        #expect(late?.minute == clock.now().adding(seconds: -600).minute || late?.minute == clock.now().adding(seconds: -660).minute)
        try await ranker.computeAndPublish(.admin)
        #expect(await ranker.stats(for: id("fast")).long.live.total == 4)
        #expect(try StateStore(path: dir.file("state.db")).count(table: "ingest_keys") == 6)
    }

    @Test func fullQueueAnswers429AndLosesNothingItAccepted() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = SystemClock()
        let (app, _) = try RankdApplication.build(
            configuration(dir, queueRecords: 1_000), clock: clock, logger: quietLogger, epochLoop: false)
        try await app.test(.live) { client in
            let now = clock.now()
            // Another process holds state.db's write lock for 2.5 s (rankd waits up to 5 s for it):
            // the writer cannot commit, so the queue fills.
            let port = try #require(client.port)
            let script =
                "import sqlite3,sys,time\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('locked',flush=True)\ntime.sleep(2.5)\nc.execute('ROLLBACK')\n"
            let locker = Process()
            locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            locker.arguments = ["python3", "-c", script, dir.file("state.db")]
            let lockerOutput = Pipe()
            locker.standardOutput = lockerOutput
            try locker.run()
            // Blocking waits happen on a Dispatch thread, never on the (two) threads the server needs.
            await offPool { _ = lockerOutput.fileHandleForReading.availableData }  // "locked"
            let first = Task {
                try await HTTPLoad.post(port: port, body: Self.batch("first", count: 1_000, at: now), token: Self.ingestToken)
            }
            var refused: HTTPLoad.Answer?
            var attempt = 0
            var queued: [Task<HTTPLoad.Answer, any Error>] = []
            while refused == nil && attempt < 30 {
                try await Task.sleep(for: .milliseconds(50))
                let answer = try await HTTPLoad.post(
                    port: port, body: Self.batch("second-\(attempt)", count: 1, at: now), token: Self.ingestToken)
                if answer.status == 429 { refused = answer } else { queued.append(Task { answer }) }
                attempt += 1
            }
            #expect(refused?.status == 429)
            #expect(refused?.retryAfter == "1")
            await offPool { locker.waitUntilExit() }
            let answer = try await first.value
            #expect(answer.status == 200, "\(answer.body)")
            for task in queued { #expect(try await task.value.status == 200) }
        }
        let keys = try StateStore(path: dir.file("state.db")).count(table: "ingest_keys")
        let stored = try self.stored(dir)["fast"] ?? 0
        #expect(Int64(keys) == stored, "every acknowledged record counted once")
        #expect(stored >= 1_000)
    }

    func offPool(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                work()
                continuation.resume()
            }
        }
    }

    static func batch(_ prefix: String, count: Int, at time: Timestamp) -> String {
        (0..<count).map { record("\(prefix)-\($0)", at: time) }.joined(separator: "\n")
    }
}

/// A minimal HTTP/1.1 client over a plain socket (the test's second connection), for requests
/// that must run while the test holds locks.
enum HTTPLoad {
    struct Answer: Sendable {
        var status: Int
        var retryAfter: String?
        var body: String
    }

    static func post(port: Int, path: String = "/v1/telemetry", body: String, token: String) async throws -> Answer {
        do {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("rankd-body-\(UUID().uuidString)").path
            try body.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let run = try await ChildProcess.runOffPool(
                "curl",
                [
                    "-s", "-i", "-X", "POST", "--max-time", "30", "-H", "Authorization: Bearer \(token)", "-H",
                    "Content-Type: application/x-ndjson", "--data-binary", "@\(file)", "http://127.0.0.1:\(port)\(path)",
                ], timeoutSeconds: 40)
            let text = run.output.replacingOccurrences(of: "\r\n", with: "\n")
            let head = text.components(separatedBy: "\n\n").first ?? ""
            let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            let retryAfter = head.split(separator: "\n").first { $0.lowercased().hasPrefix("retry-after:") }.map {
                $0.dropFirst("retry-after:".count).trimmingCharacters(in: .whitespaces)
            }
            return Answer(status: status, retryAfter: retryAfter, body: String(text.dropFirst(head.count)))
        }
    }
}
