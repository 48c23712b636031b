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
        var engine = RankingEngine(policy: .default, endpoints: ["fast", "steady", "slow"].map { Build.endpoint($0) }, now: start)
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
        try #require(queries.count == 2)
        let db = try DatabaseQueue(path: path)
        let version = try db.read { try String.fetchOne($0, sql: queries[0]) }
        #expect(version == "1")
        let rows = try db.read { try Row.fetchAll($0, sql: queries[1]) }
        #expect(rows.map { $0["endpoint_id"] as String } == ["steady:\(Build.model)", "slow:\(Build.model)", "fast:\(Build.model)"])
        #expect(rows.last?["status"] == "demoted")
    }

    @Test func pythonExampleRuns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try publishedFile(dir)
        let script = dir.file("reader.py")
        let python = try #require(try codeBlocks("python").first)
        try python.write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, path, Build.model]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.first?.hasPrefix("1 steady:\(Build.model) ok ") == true, "\(text)")
        #expect(lines.last?.hasPrefix("3 fast:\(Build.model) demoted ") == true, "\(text)")
    }
}
