import Foundation
import GRDB
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `rankd serve` as a user runs it: the built binary, the shipped example configuration, a real
/// port on 127.0.0.1, then SIGTERM.
@Suite struct ServeProcessTests {
    @Test func serveWithExampleConfigPublishesAnswersAndStopsCleanlyOnSigterm() async throws {
        let binary = RepositoryFiles.rankdExecutable
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build rankd first (swift build --build-tests)")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }

        let daemon = try await DaemonProcess(
            [
                "serve", "--config", RepositoryFiles.path("deploy/rankd.example.yaml"), "--listen", "127.0.0.1:0", "--data-dir", dir.path,
                "--log-format", "json",
            ],
            environment: ["RANKD_ADMIN_TOKEN": "admin-token-for-the-test-0123", "RANKD_INGEST_TOKEN": "ingest-token-for-the-test-0123"])
        let base = daemon.baseURL
        let ready = await daemon.waitUntilReady()
        #expect(ready)
        #expect(try await get("\(base)/healthz").status == 200)
        let model = try await get("\(base)/v1/rankings/meta-llama/llama-3.3-70b-instruct")
        #expect(model.status == 200)
        let body = try #require(try JSONSerialization.jsonObject(with: model.body) as? [String: Any])
        let entries = try #require(body["endpoints"] as? [[String: Any]], "\(body)")
        #expect(entries.count == 4)
        #expect(
            entries.allSatisfy { $0["status"] as? String == "insufficient_data" && ($0["reasons"] as? [String]) == ["no_observations"] })
        let all = try await get("\(base)/v1/rankings")
        let allBody = try #require(try JSONSerialization.jsonObject(with: all.body) as? [String: Any])
        let disabled = try #require((allBody["models"] as? [String: [[String: Any]]])?["qwen/qwen3-235b-a22b"], "\(allBody)")
        #expect(disabled.map { $0["status"] as? String } == ["disabled"])
        #expect(String(decoding: try await get("\(base)/metrics").body, as: UTF8.self).contains("rankd_epochs_total"))

        // `rankd history` against the running daemon: a table with a rank sparkline.
        let history = Process()
        history.executableURL = URL(fileURLWithPath: binary)
        history.arguments = ["history", "--url", base, "--model", "meta-llama/llama-3.3-70b-instruct", "--provider", "deepinfra"]
        let historyOutput = Pipe()
        history.standardOutput = historyOutput
        try history.run()
        let historyText = String(decoding: historyOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        history.waitUntilExit()
        #expect(history.terminationStatus == 0, "\(historyText)")
        #expect(historyText.contains("deepinfra:meta-llama/llama-3.3-70b-instruct"), "\(historyText)")
        #expect(historyText.contains("insufficient_data"))
        #expect(historyText.contains { "▁▂▃▄▅▆▇█".contains($0) }, "a sparkline: \(historyText)")

        // Live telemetry just before SIGTERM: acknowledged means journalled; the shutdown folds the
        // journal into minute buckets (a fold refused by the cancelled service task once logged
        // "could not flush minute buckets at shutdown" at every stop and left it to the next start).
        let now = ISO8601DateFormatter().string(from: Date())
        let records = (0..<3).map {
            "{\"request_id\":\"serve-test-\($0)\",\"timestamp\":\"\(now)\",\"model\":\"meta-llama/llama-3.3-70b-instruct\","
                + "\"provider\":\"deepinfra\",\"status\":200,\"ttft_ms\":300,\"latency_ms\":1200}"
        }
        var post = URLRequest(url: URL(string: "\(base)/v1/telemetry")!)
        post.httpMethod = "POST"
        post.setValue("Bearer ingest-token-for-the-test-0123", forHTTPHeaderField: "Authorization")
        post.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        post.httpBody = Data(records.joined(separator: "\n").utf8)
        let (ingestBody, ingestResponse) = try await URLSession.shared.data(for: post)
        #expect((ingestResponse as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: ingestBody, as: UTF8.self))")

        // Reads first (`WorkerPriority`): the event loops that answer rankings keep the priority
        // rankd started with; the threads that decoded and committed the telemetry run 5 steps
        // lower. (Relative: the child inherits the nice value of the test's spawning thread.)
        let threads = try Self.threadNiceValues(pid: daemon.process.processIdentifier)
        let eventLoops = threads.filter { $0.name.hasPrefix("NIO-") }
        let loopNice = try #require(eventLoops.first?.nice, "\(threads)")
        #expect(eventLoops.allSatisfy { $0.nice == loopNice }, "\(threads)")
        #expect(threads.contains { !$0.name.hasPrefix("NIO-") && $0.nice == min(19, loopNice + 5) }, "\(threads)")

        let shutdown = await daemon.stop()
        #expect(!daemon.process.isRunning)
        #expect(daemon.process.terminationStatus == 0)
        #expect(shutdown < .seconds(2), "shutdown took \(shutdown)")
        print("rankd serve: SIGTERM to exit in \(shutdown)")

        // The published file is whole: integrity holds and current_rankings is one complete epoch.
        let db = try DatabaseQueue(
            path: dir.file("rankings.db"),
            configuration: {
                var c = Configuration(); c.readonly = true; return c
            }())
        let (integrity, rows, epochs, endpoints) = try await db.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA integrity_check"), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_rankings"),
                try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT epoch_id) FROM current_rankings"),
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM endpoints")
            )
        }
        #expect(integrity == "ok")
        #expect(rows == 5)
        #expect(epochs == 1)
        #expect(endpoints == 5)
        let text = daemon.logs
        #expect(text.contains("epoch loop stopped"))
        // The binary links jemalloc and it serves malloc (Malloc.swift), not glibc's.
        #expect(text.contains("allocator is jemalloc"), "\(text.prefix(2_000))")
        #expect(!text.contains("could not flush"), "\(text)")
        let state = try DatabaseQueue(
            path: dir.file("state.db"),
            configuration: {
                var c = Configuration(); c.readonly = true; return c
            }())
        let (journalRows, liveRequests) = try await state.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM live_journal"),
                try Int.fetchOne(db, sql: "SELECT SUM(requests) FROM minute_buckets WHERE source = 'live'")
            )
        }
        #expect(journalRows == 0, "the journal is folded at shutdown")
        #expect(liveRequests == 3, "the three acknowledged records are in the minute buckets")
        #expect(!text.contains("admin-token-for-the-test"), "a secret reached the log")
    }

    func get(_ url: String) async throws -> (status: Int, body: Data) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// Each thread of `pid`: id, name and nice value (`/proc/PID/task/TID/stat`, field 19).
    static func threadNiceValues(pid: Int32) throws -> [(tid: Int32, name: String, nice: Int32)] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap { entry in
            guard let tid = Int32(entry) else { return nil }
            // A thread may end between the listing and the read.
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(entry)/stat", encoding: .utf8) else { return nil }
            guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 16, let nice = Int32(fields[16]) else { return nil }
            return (tid, String(stat[stat.index(after: open)..<close]), nice)
        }
    }
}
