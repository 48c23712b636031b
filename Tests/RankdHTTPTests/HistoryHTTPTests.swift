import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdTestKit
import Testing

/// `GET /v1/history`, `/v1/epochs`, `/v1/epochs/{id}` over the real state.db.
@Suite struct HistoryHTTPTests {

    @Test func historyExplainsHowRanksMoved() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let start = clock.now()
        let (app, ranker) = try RankdApplication.build(testConfiguration(dir), clock: clock, logger: quietLogger, epochLoop: false)
        // Epoch 1: fast is clean and first. Epoch 2: fast breaks and is demoted. Epoch 3: still demoted.
        for provider in ["fast", "steady", "slow"] {
            await ranker.record(
                Build.observations(id(provider), count: 60, end: clock.now(), ttftMilliseconds: provider == "fast" ? 100 : 500))
        }
        try await ranker.computeAndPublish(.scheduled)
        clock.advance(seconds: 60)
        await ranker.record(
            Build.observations(id("fast"), count: 100, end: clock.now(), spanSeconds: 59, failEvery: 2, ttftMilliseconds: 100))
        try await ranker.computeAndPublish(.scheduled)
        clock.advance(seconds: 60)
        try await ranker.computeAndPublish(.scheduled)

        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/history?model=\(Build.model)&provider=fast&since=\(RFC3339.format(start))", method: .get) {
                response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                let epochs = body["epochs"] as! [[String: Any]]
                #expect(epochs.map { $0["epoch_id"] as! Int } == [1, 2, 3])
                let fast = epochs.map { ($0["endpoints"] as! [[String: Any]]).first! }
                #expect(fast.map { $0["rank"] as! Int } == [1, 3, 3])
                #expect(fast.map { $0["status"] as! String } == ["ok", "demoted", "demoted"])
                #expect((fast[1]["reasons"] as! [String]).contains("tool_call_failure_outlier"))
            }
            try await client.execute(uri: "/v1/epochs?since=\(RFC3339.format(start))", method: .get) { response in
                let epochs = try json(response.body)["epochs"] as! [[String: Any]]
                #expect(epochs.map { $0["id"] as! Int } == [1, 2, 3])
            }
            try await client.execute(uri: "/v1/epochs/2", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect((body["epoch"] as! [String: Any])["id"] as? Int == 2)
                #expect(body["models"] is [String: Any])
            }
            try await client.execute(uri: "/v1/epochs/99", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/epochs/two", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/history", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("model"))
            }
            try await client.execute(uri: "/v1/history?model=\(Build.model)&since=yesterday", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("since"))
            }
        }
    }
}
