import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RankdConfig
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdTestKit
import Testing

/// Benchmark scores by API: `PUT /v1/admin/benchmarks` (CSV or JSON) replaces the API's set,
/// persisted in `state.db` with the upload kept, publishes an epoch with them at once, and
/// `GET /v1/benchmarks` shows the scores in force, their age and how much they still count.
@Suite struct BenchmarkAPIHTTPTests {
    static let admin: HTTPFields = [.authorization: "Bearer admin-token-0123456789"]

    /// 100 days of fading; a file score for fast and one for slow (the API's replaces fast's).
    static func configuration(_ dir: TemporaryDirectory, clock: ManualClock) -> LoadedConfiguration {
        var loaded = testConfiguration(dir)
        loaded.policy.benchmarks.maxAgeDays = 100
        loaded.benchmarks = [
            BenchmarkScore(endpointID: id("fast"), benchmark: "tau2", score: 0.2, source: "file", measuredAt: clock.now()),
            BenchmarkScore(endpointID: id("slow"), benchmark: "tau2", score: 0.6, source: "file", measuredAt: clock.now().adding(seconds: -50 * 86_400)),
        ]
        return loaded
    }

    static func put(_ client: some TestClientProtocol, _ body: String, type: String = "text/csv", query: String = "", headers: HTTPFields = admin)
        async throws -> (HTTPResponse.Status, [String: Any])
    {
        var fields = headers
        fields[.contentType] = type
        return try await client.execute(uri: "/v1/admin/benchmarks\(query)", method: .put, headers: fields, body: ByteBuffer(string: body)) {
            ($0.status, try json($0.body))
        }
    }

    static func entry(_ body: [String: Any], _ provider: String) -> [String: Any]? {
        let models = body["models"] as? [String: [[String: Any]]] ?? [:]
        let entries = models.values.flatMap { $0 }
        return entries.first { $0["provider"] as? String == provider }
    }

    static func stats(_ entry: [String: Any]?) -> [String: Any] {
        (entry?["explanation"] as? [String: Any])?["stats"] as? [String: Any] ?? [:]
    }

    @Test func scoresByAPIArePublishedPersistedAndFade() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let (app, ranker) = try RankdApplication.build(Self.configuration(dir, clock: clock), clock: clock, logger: quietLogger, epochLoop: false)
        for provider in ["fast", "steady", "slow"] { await ranker.record(Build.observations(id(provider), count: 60, end: clock.now())) }
        try await ranker.computeAndPublish(.scheduled)
        let twentyDaysAgo = RFC3339.format(clock.now().adding(seconds: -20 * 86_400))
        try await app.test(.router) { client in
            // Files only: slow's score is 50 days old, half its weight left.
            let before = try await client.execute(uri: "/v1/rankings", method: .get) { try json($0.body) }
            #expect(Self.stats(Self.entry(before, "slow"))["benchmark_freshness"] as? Double == 0.5)
            #expect(Self.stats(Self.entry(before, "fast"))["benchmark"] as? Double == 0.2)

            let csv = """
                endpoint_id,benchmark,score,source,date
                \(id("fast")),tau2,0.9,"eval run, week 48",\(twentyDaysAgo)
                \(id("steady")),tau2,0.7,eval run week 48,\(twentyDaysAgo)
                """
            let (status, replaced) = try await Self.put(client, csv, query: "?author=ops&note=week%2048")
            #expect(status == .ok, "\(replaced)")
            let upload = replaced["upload"] as? [String: Any]
            #expect(upload?["id"] as? Int == 1)
            #expect(upload?["scores"] as? Int == 2)
            #expect(upload?["author"] as? String == "ops")
            #expect(upload?["note"] as? String == "week 48")
            #expect((replaced["epoch"] as? [String: Any])?["trigger"] as? String == "benchmarks")

            // Published at once: the API's score replaced fast's file score, steady has one now,
            // slow keeps its file score; twenty days of a hundred leave 0.8 of the weight.
            let after = try await client.execute(uri: "/v1/rankings", method: .get) { try json($0.body) }
            #expect(Self.stats(Self.entry(after, "fast"))["benchmark"] as? Double == 0.9)
            #expect(Self.stats(Self.entry(after, "fast"))["benchmark_freshness"] as? Double == 0.8)
            #expect(Self.stats(Self.entry(after, "steady"))["benchmark"] as? Double == 0.7)
            #expect(Self.stats(Self.entry(after, "slow"))["benchmark"] as? Double == 0.6)

            let listing = try await client.execute(uri: "/v1/benchmarks", method: .get) { try json($0.body) }
            #expect(listing["max_age_days"] as? Double == 100)
            let scores = listing["scores"] as? [[String: Any]] ?? []
            #expect(Set(scores.map { "\($0["endpoint_id"]!) \($0["origin"]!)" }) == ["\(id("fast")) api", "\(id("steady")) api", "\(id("slow")) file"])
            #expect(scores.first { $0["origin"] as? String == "api" && $0["endpoint_id"] as? String == id("fast") }?["source"] as? String == "eval run, week 48")
            #expect(scores.first { $0["endpoint_id"] as? String == id("fast") }?["age_days"] as? Double == 20)
            #expect(((listing["combined"] as? [String: Any])?[id("slow")] as? [String: Any])?["freshness"] as? Double == 0.5)
            #expect((listing["uploads"] as? [[String: Any]])?.count == 1)

            // JSON, with a problem in every row: all named, nothing stored.
            let bad = #"{"scores": [{"endpoint_id": "nobody:x", "benchmark": "tau2", "score": 0.5, "source": "s", "date": "2026-01-01"}, {"endpoint_id": "\#(id("fast"))", "benchmark": "tau2", "score": 1.5, "source": "s", "date": "yesterday", "weight": 2}]}"#
            let (badStatus, problems) = try await Self.put(client, bad, type: "application/json")
            #expect(badStatus == .badRequest)
            let fields = Set((problems["fields"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["scores[0].endpoint_id", "scores[1].score", "scores[1].date", "scores[1].weight"], "\(problems)")
            let badCSV = "endpoint_id,benchmark,score,source,date\n\(id("fast")),tau2,0.5,s,2026-01-01\n\(id("fast")),tau2,0.6,s,2026-01-02\n"
            let (twiceStatus, twice) = try await Self.put(client, badCSV)
            #expect(twiceStatus == .badRequest)
            #expect("\(twice)".contains("given twice"), "\(twice)")
            #expect(try await Self.put(client, "", type: "text/csv").0 == .badRequest, "an empty body does not clear the scores")
            let unchanged = try await client.execute(uri: "/v1/benchmarks", method: .get) { try json($0.body) }
            #expect((unchanged["uploads"] as? [[String: Any]])?.count == 1)

            // Who may: the admin token, in a media type it reads.
            #expect(try await Self.put(client, csv, headers: [:]).0 == .unauthorized)
            #expect(try await Self.put(client, csv, type: "text/plain").0 == .unsupportedMediaType)
        }

        // A restart keeps the API's scores and the upload.
        let (again, _) = try RankdApplication.build(Self.configuration(dir, clock: clock), clock: clock, logger: quietLogger, epochLoop: false)
        try await again.test(.router) { client in
            let listing = try await client.execute(uri: "/v1/benchmarks", method: .get) { try json($0.body) }
            let origins = (listing["scores"] as? [[String: Any]] ?? []).compactMap { $0["origin"] as? String }
            #expect(origins.sorted() == ["api", "api", "file"])
            // The header alone clears the API's set: the files' scores stand again.
            let (status, cleared) = try await Self.put(client, "endpoint_id,benchmark,score,source,date\n")
            #expect(status == .ok)
            #expect((cleared["upload"] as? [String: Any])?["replaced"] as? Int == 2)
            let after = try await client.execute(uri: "/v1/rankings", method: .get) { try json($0.body) }
            #expect(Self.stats(Self.entry(after, "fast"))["benchmark"] as? Double == 0.2)
            #expect(Self.stats(Self.entry(after, "steady"))["benchmark"] is NSNull)
        }
    }
}
