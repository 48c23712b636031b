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
import RankdDaemonTestKit
import RankdStore
import RankdTestKit
import Testing

/// `POST /v1/telemetry` on a real socket: every input variant gives the documented answer and
/// the minute buckets in state.db hold exactly what was accepted.
/// Ingest with other processes involved: a second process holding state.db's write lock while
/// the queue fills, and the `rankd ingest` command backfilling a file.
@Suite struct IngestEndToEndTests {
    static let ingestToken = TelemetryFixtures.ingestToken

    func configuration(_ dir: TemporaryDirectory, maxBodyBytes: Int = 4 << 20, queueRecords: Int = 100_000) -> LoadedConfiguration {
        TelemetryFixtures.configuration(dir, maxBodyBytes: maxBodyBytes, queueRecords: queueRecords)
    }

    static func record(_ id: String, provider: String = "fast", at time: Timestamp) -> String {
        TelemetryFixtures.record(id, provider: provider, at: time)
    }

    static func batch(_ prefix: String, count: Int, at time: Timestamp) -> String {
        (0..<count).map { record("\(prefix)-\($0)", at: time) }.joined(separator: "\n")
    }

    func stored(_ dir: TemporaryDirectory) throws -> [String: Int64] { try TelemetryFixtures.storedLive(dir) }

    @Test(.enabled(if: Needs.programs("python3", "curl"), "needs python3 (holds the write lock) and curl"))
    func fullQueueAnswers429AndLosesNothingItAccepted() async throws {
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
