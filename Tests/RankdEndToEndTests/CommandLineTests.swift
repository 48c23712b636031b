import Foundation
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdStore
import RankdTestKit
import Testing

/// The `rankd` binary's one-shot commands, run as a user runs them.
@Suite struct CommandLineTests {
    struct Run {
        var status: Int32
        var output: String
    }

    func rankd(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let binary = RepositoryFiles.rankdExecutable
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build rankd first (swift build --build-tests)")
        let run = try ChildProcess.run(binary, arguments, environment: environment)
        return Run(status: run.status, output: run.output)
    }

    @Test func checkConfigExitsZeroOnTheExample() throws {
        let run = try rankd(
            ["check-config", RepositoryFiles.path("deploy/rankd.example.yaml")],
            environment: ["RANKD_ADMIN_TOKEN": "admin-token-0123456789abc", "RANKD_INGEST_TOKEN": "ingest-token-0123456789abc"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("valid") && run.output.contains("5 endpoint(s) across 2 model(s)"))
        #expect(!run.output.contains("admin-token-0123456789abc"), "a secret was printed")
    }

    /// `rankd replay` on a directory the daemon wrote (open meanwhile): the text report, the
    /// JSON document, and a bad policy file's every problem with file, line and key (exit 1).
    @Test func replayReportsAsTextAndJSONAndListsEveryProblemOfABadPolicy() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let state = try DaemonState.open(dir, clock: clock)
        for minute in 0..<20 {
            let end = clock.now().adding(seconds: 55)
            await state.ranker.record(
                Build.observations(id("fast"), count: 6, end: end, spanSeconds: 50, failEvery: minute >= 10 ? 2 : 0)
                    + Build.observations(id("steady"), count: 6, end: end, spanSeconds: 50)
                    + Build.observations(id("slow"), count: 6, end: end, spanSeconds: 50, ttftMilliseconds: 900))
            clock.advance(seconds: 60)
            if minute % 2 == 1 { try await state.ranker.computeAndPublish(.scheduled) }
        }
        try await state.ledger.flush()

        let text = try rankd(["replay", "--data-dir", dir.path])
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("model \(Build.model): 10 epoch(s) compared"), "\(text.output)")
        #expect(text.output.contains("what users would have met (estimate)"))
        #expect(text.output.contains(id("fast")), "the fault's demotion is listed: \(text.output)")

        let json = try rankd(["replay", "--data-dir", dir.path, "--json", "--interval", "120s", "--model", Build.model])
        #expect(json.status == 0, "\(json.output)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], "\(json.output)")
        let models = try #require(document["models"] as? [[String: Any]])
        #expect(models.map { $0["model"] as? String } == [Build.model])
        #expect(models.first?["epochs_compared"] as? Int == 10)
        #expect((document["range"] as? [String: Any])?["interval_seconds"] as? Double == 120)
        #expect(document["estimate_caveat"] as? String == ReplayReport.caveat)

        let policy = dir.file("strict.yaml")
        try """
        demotion:
          failure_outlier:
            z_critical: -1
            min_requestz: 3
        status:
          minimum_samples: lots
        """.write(toFile: policy, atomically: true, encoding: .utf8)
        let bad = try rankd(["replay", "--data-dir", dir.path, "--policy", policy, "--from", "yesterday"])
        #expect(bad.status == 1)
        #expect(bad.output.contains("4 problem(s)"), "\(bad.output)")
        #expect(bad.output.contains("strict.yaml:3: demotion.failure_outlier.z_critical:"), "\(bad.output)")
        #expect(bad.output.contains("strict.yaml:4: demotion.failure_outlier.min_requestz:"), "\(bad.output)")
        #expect(bad.output.contains("strict.yaml:6: status.minimum_samples:"), "\(bad.output)")
        #expect(bad.output.contains("--from yesterday"), "\(bad.output)")
    }

    @Test func checkConfigExitsOneAndListsEveryProblem() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("bad.yaml")
        try """
        listen: everywhere
        endpoints:
          - provider: acme
            model: acme/one
            base_url: ftp://acme
            quantization: fp7
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try rankd(["check-config", file])
        #expect(run.status == 1)
        #expect(run.output.contains("3 problem(s)"), "\(run.output)")
        #expect(run.output.contains("bad.yaml:1: listen:"))
        #expect(run.output.contains("bad.yaml:5: endpoints[0].base_url:"))
        #expect(run.output.contains("bad.yaml:6: endpoints[0].quantization:"))
    }

    @Test func serveRefusesAnInvalidFileWithTheSameMessages() throws {
        let run = try rankd(
            ["serve", "--config", RepositoryFiles.path("deploy/rankd.example.yaml"), "--listen", "127.0.0.1:0"],
            environment: ["RANKD_ADMIN_TOKEN": "", "RANKD_INGEST_TOKEN": ""])
        #expect(run.status == 2)
        #expect(run.output.contains("refusing to start"))
        #expect(run.output.contains("tokens.admin: environment variable RANKD_ADMIN_TOKEN is not set"))
        #expect(run.output.contains("tokens.ingest: environment variable RANKD_INGEST_TOKEN is not set"))
    }

    @Test func rankingsReadsThePublishedFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try PublishedStore(path: dir.file("rankings.db"))
        let start = Timestamp(secondsSince1970: 1_767_225_600)
        var engine = MemoryRanking(policy: .default, endpoints: ["fast", "steady"].map { Build.endpoint($0) }, now: start)
        for o in Build.observations("steady:\(Build.model)", count: 50, end: start.adding(seconds: 60)) { _ = engine.record(o) }
        try store.publish(
            engine.computeEpoch(now: start.adding(seconds: 60), trigger: .scheduled), endpoints: engine.endpoints, at: start,
            retentionSeconds: 3_600)
        let run = try rankd(["rankings", "--db", dir.file("rankings.db")])
        #expect(run.status == 0, "\(run.output)")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("1    steady ") && $0.contains(" ok ") && $0.contains("1.00") }, "\(run.output)")
        // The share column: the two shares of the model add up to 100%.
        #expect(lines.contains { $0.hasPrefix("rank ") && $0.contains(" score  share ") }, "\(run.output)")
        let shares = lines.compactMap { line in
            line.split(separator: " ").first { $0.hasSuffix("%") }.flatMap { Double($0.dropLast()) }
        }
        #expect(shares.count == 2 && abs(shares.reduce(0, +) - 100) < 0.2, "\(run.output)")
        #expect(
            lines.contains { $0.hasPrefix("2    fast ") && $0.contains("insufficient_data") && $0.contains("no_observations") },
            "\(run.output)")
    }

    @Test func versionIsPrinted() throws {
        let run = try rankd(["--version"])
        #expect(run.status == 0)
        #expect(run.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }
}
