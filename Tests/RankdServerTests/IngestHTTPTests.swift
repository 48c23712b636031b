import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RankdConfig
import RankdCore
import RankdPlatform
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


    /// Live requests stored in state.db, by endpoint provider.
    func stored(_ dir: TemporaryDirectory) throws -> [String: Int64] {
        let buckets = try storedBuckets(dir).filter { $0.source == .live }
        var totals: [String: Int64] = [:]
        for bucket in buckets { totals[String(bucket.endpointID.prefix { $0 != ":" }), default: 0] += bucket.tally.total }
        return totals
    }

    @Test func everyInputVariantGetsItsDocumentedAnswer() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = SystemClock()
        let (app, daemon) = try RankdApplication.assemble(
            configuration(dir, maxBodyBytes: 64 * 1024), clock: clock, logger: quietLogger, epochLoop: false)
        let ranker = daemon.ranker
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
                let rejected = try #require(answer["rejected"] as? [[String: Any]], "\(answer)")
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
                let rejected = try #require(answer["rejected"] as? [[String: Any]], "\(answer)").map { "\($0["index"] ?? "-") \($0["field"] ?? "-")" }
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
        let late = try storedBuckets(dir).first { $0.endpointID == id("slow") }
        #expect(late?.minute == clock.now().adding(seconds: -600).minute || late?.minute == clock.now().adding(seconds: -660).minute)
        try await ranker.computeAndPublish(.admin)
        #expect(await daemon.ledger.stats(for: id("fast")).long.live.total == 4)
        #expect(try StateStore(path: dir.file("state.db")).count(table: "ingest_keys") == 6)
    }

    @Test func fullQueueAnswers429AndLosesNothingItAccepted() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = SystemClock()
        let (app, _) = try RankdApplication.build(
            configuration(dir, queueRecords: 1_000), clock: clock, logger: quietLogger, epochLoop: false)
        let acceptedRecords = try await app.test(.live) { client -> Int in
            let now = clock.now()
            // Another process holds state.db's write lock for 3.5 s (rankd waits up to 5 s for it):
            // the writer cannot commit, so what is queued stays queued (capacity 1,000) while
            // the posts below arrive, 100 ms apart.
            let port = try #require(client.port)
            let script =
                "import sqlite3,sys,time\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('locked',flush=True)\ntime.sleep(3.5)\nc.execute('ROLLBACK')\n"
            let locker = Process()
            locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            locker.arguments = ["python3", "-c", script, dir.file("state.db")]
            let lockerOutput = Pipe()
            locker.standardOutput = lockerOutput
            try locker.run()
            // Blocking waits happen on a Dispatch thread, never on the (two) threads the server needs.
            await offPool { _ = lockerOutput.fileHandleForReading.availableData }  // "locked"
            let bodies = [
                Self.batch("first", count: 500, at: now),  // queued: 500
                Self.batch("overflows", count: 600, at: now),  // 1,100 > 1,000: decoded, then 429
                Self.batch("fits", count: 400, at: now),  // queued: 900, 90% of the capacity
                "[{\"request_id\": ",  // nearly full: 429 before the body is read (else 400)
            ]
            var posts: [Task<HTTPLoad.Answer, any Error>] = []
            for body in bodies {
                posts.append(Task { try await HTTPLoad.post(port: port, body: body, token: Self.ingestToken) })
                try await Task.sleep(for: .milliseconds(100))
            }
            var answers: [HTTPLoad.Answer] = []
            for post in posts { answers.append(try await post.value) }
            await offPool { locker.waitUntilExit() }
            #expect(answers.map(\.status) == [200, 429, 200, 429])
            #expect(answers.filter { $0.status == 429 }.allSatisfy { $0.retryAfter == "1" })
            return 900
        }
        let keys = try StateStore(path: dir.file("state.db")).count(table: "ingest_keys")
        let stored = try self.stored(dir)["fast"] ?? 0
        #expect(keys == acceptedRecords && stored == Int64(acceptedRecords), "acknowledged batches stored once, refused ones not at all")
    }

    func offPool(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                work()
                continuation.resume()
            }
        }
    }

    /// `rankd ingest FILE` against the live server: every line posted, replays counted once,
    /// rejected lines named by line number, exit status 1 when some were rejected.
    @Test func ingestCommandBackfillsAFile() async throws {
        try await HeavyWork.run {
            let binary = RepositoryFiles.rankdExecutable
            try #require(FileManager.default.isExecutableFile(atPath: binary), "build rankd first (swift build --build-tests)")
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let clock = SystemClock()
            let (app, _) = try RankdApplication.build(configuration(dir), clock: clock, logger: quietLogger, epochLoop: false)
            let now = clock.now()
            let file = dir.file("records.ndjson")
            var lines = (0..<2_500).map { Self.record("file-\($0)", provider: $0 % 2 == 0 ? "fast" : "steady", at: now) }
            lines.insert("", at: 10)
            lines.append(Self.record("file-bad", provider: "nobody", at: now))
            try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            try await app.test(.live) { client in
                let url = "http://127.0.0.1:\(try #require(client.port))"
                let first = try await ChildProcess.runOffPool(
                    binary, ["ingest", "--url", url, "--batch", "1000", file], environment: ["RANKD_INGEST_TOKEN": Self.ingestToken])
                #expect(first.status == 1, "one line is rejected: \(first.output)")
                #expect(first.output.contains("2501 records: 2500 accepted, 0 duplicates (already counted), 1 rejected"), "\(first.output)")
                #expect(first.output.contains("line 2502: provider unknown provider nobody"), "\(first.output)")
                #expect(first.output.contains("sent 2501/2501 records"))
                let again = try await ChildProcess.runOffPool(
                    binary, ["ingest", "--url", url, file], environment: ["RANKD_INGEST_TOKEN": Self.ingestToken])
                #expect(again.output.contains("0 accepted, 2500 duplicates"), "\(again.output)")
                let noToken = try await ChildProcess.runOffPool(
                    binary, ["ingest", "--url", url, file], environment: ["RANKD_INGEST_TOKEN": ""])
                #expect(noToken.status == 2 && noToken.output.contains("RANKD_INGEST_TOKEN"))
            }
            #expect(try stored(dir) == ["fast": 1_250, "steady": 1_250])
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
