import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RankdDaemon
import RankdTestKit
import Testing

/// The whole application on a real socket on 127.0.0.1, with its epoch loop running.
@Suite struct LiveServerTests {
    @Test func servesRankingsOverARealSocket() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (app, _) = try RankdApplication.build(testConfiguration(dir), clock: ManualClock(), logger: quietLogger)
        try await app.test(.live) { client in
            #expect(client.port != nil && client.port != 0)
            // The epoch loop publishes its startup epoch right away; poll readiness briefly.
            var ready = false
            for _ in 0..<200 where !ready {
                ready = try await client.execute(uri: "/readyz", method: .get) { $0.status == .ok }
                if !ready { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(ready)
            try await client.execute(uri: "/v1/rankings/acme/solo-1", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"status\":\"insufficient_data\""))
                #expect(response.headers[.server] == "rankd")
            }
        }
    }
}
