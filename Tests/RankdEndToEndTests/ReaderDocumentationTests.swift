import Foundation
import GRDB
import RankdCore
import RankdStore
import RankdTestKit
import Testing

/// Runs the SQL and Python examples of docs/sqlite-readers.md against a real published file.
@Suite struct ReaderDocumentationTests {
    /// Every fenced block of `language` in the document, in order.
    func codeBlocks(_ language: String) throws -> [String] {
        let text = try String(contentsOfFile: RepositoryFiles.path("docs/sqlite-readers.md"), encoding: .utf8)
        var blocks: [String] = []
        var searchFrom = text.startIndex
        while let start = text.range(of: "```\(language)\n", range: searchFrom..<text.endIndex) {
            let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
            blocks.append(String(text[start.upperBound..<end.lowerBound]))
            searchFrom = end.upperBound
        }
        return blocks
    }

    func publishedFile(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.file("rankings.db")
        let store = try PublishedStore(path: path)
        let start = Timestamp(secondsSince1970: 1_767_225_600)
        var engine = MemoryRanking(policy: .default, endpoints: ["fast", "steady", "slow"].map { Build.endpoint($0) }, now: start)
        let end = start.adding(seconds: 600)
        for o in Build.observations("fast:\(Build.model)", count: 200, end: end, failEvery: 4, ttftMilliseconds: 150)
            + Build.observations("steady:\(Build.model)", count: 200, end: end)
            + Build.observations("slow:\(Build.model)", count: 200, end: end, ttftMilliseconds: 800)
        {
            _ = engine.record(o)
        }
        try store.publish(engine.computeEpoch(now: end, trigger: .scheduled), endpoints: engine.endpoints, at: end, retentionSeconds: 3_600)
        return path
    }

    @Test func sqlExampleReturnsEndpointsBestFirst() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try publishedFile(dir)
        let queries = try codeBlocks("sql")
        try #require(queries.count == 3)
        let db = try DatabaseQueue(path: path)
        let version = try db.read { try String.fetchOne($0, sql: queries[0]) }
        #expect(version == "2")
        let rows = try db.read { try Row.fetchAll($0, sql: queries[1]) }
        #expect(rows.map { $0["endpoint_id"] as String } == ["steady:\(Build.model)", "slow:\(Build.model)", "fast:\(Build.model)"])
        #expect(rows.last?["status"] == "demoted")
        let shares = rows.map { $0["traffic_share"] as Double }
        #expect(abs(shares.reduce(0, +) - 1) < 1e-5, "\(shares)")
        #expect(shares[0] > shares[1] && shares[1] > 0 && shares[2] == 0, "\(shares)")
        // The SQL-only draw: never the demoted endpoint, and mostly the one with the larger share.
        var picks: [String: Int] = [:]
        for _ in 0..<200 {
            let pick = try db.read { try String.fetchOne($0, sql: queries[2]) }
            picks[try #require(pick), default: 0] += 1
        }
        #expect(picks["fast:\(Build.model)"] == nil, "\(picks)")
        #expect(picks["steady:\(Build.model)", default: 0] > picks["slow:\(Build.model)", default: 0], "\(picks) for shares \(shares)")
    }

    /// The three reader rows the published file holds, as the examples print them, then the order to try.
    func expectReaderOutput(_ run: ChildProcess.Finished) {
        #expect(run.status == 0 && !run.timedOut, "\(run.output)")
        let lines = run.output.split(separator: "\n")
        #expect(lines.count == 4, "\(run.output)")
        #expect(lines.first?.hasPrefix("1 steady:\(Build.model) ok ") == true, "\(run.output)")
        #expect(lines.dropFirst(2).first?.hasPrefix("3 fast:\(Build.model) demoted ") == true, "\(run.output)")
        #expect(lines.dropFirst(2).first?.hasSuffix(" 0.000") == true, "a demoted endpoint has no share: \(run.output)")
        // The drawn first endpoint is one with a share; the demoted one is only a last fallback.
        let tried = lines.last.map { $0.split(separator: " ").map(String.init) } ?? []
        #expect(tried.count == 4 && tried.first == "try:" && tried.last == "fast:\(Build.model)", "\(run.output)")
    }

    @Test(.enabled(if: Needs.programs("python3"), "needs python3"))
    func pythonExampleRuns() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try publishedFile(dir)
        let script = dir.file("reader.py")
        let python = try #require(try codeBlocks("python").first)
        try python.write(toFile: script, atomically: true, encoding: .utf8)
        expectReaderOutput(try await ChildProcess.runOffPool("python3", [script, path, Build.model]))
    }

    @Test(.enabled(if: Needs.programs("go"), "needs Go and its SQLite driver: apt-get install -y golang-go golang-github-mattn-go-sqlite3-dev"))
    func goExampleRuns() async throws {
        try await HeavyWork.run {
            try #require(
                FileManager.default.fileExists(atPath: "/usr/share/gocode/src/github.com/mattn/go-sqlite3")
                    && ChildProcess.isInstalled("go"),
                "the Go example needs: apt-get install -y golang-go golang-github-mattn-go-sqlite3-dev (.ci/run installs them)")
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let path = try publishedFile(dir)
            let program = dir.file("main.go")
            try #require(try codeBlocks("go").first).write(toFile: program, atomically: true, encoding: .utf8)
            let run = try await ChildProcess.runOffPool(
                "go", ["run", program, path, Build.model],
                environment: ["GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOCACHE": dir.file("gocache"), "GOFLAGS": ""],
                timeoutSeconds: 300)
            expectReaderOutput(run)
        }
    }
}
