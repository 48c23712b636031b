import Foundation
import RankdCore
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
