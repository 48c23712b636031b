import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdTestKit
import Testing

/// Operator overrides end to end over the real state.db: made and withdrawn through the admin
/// API, visible in rankings, routing answers, history and the audit trail, ended by expiry, kept
/// across a restart.
@Suite struct OverrideHTTPTests {
    let token = "admin-token-0123456789"


    func body(_ object: [String: Any]) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
    }

    var admin: HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    func order(_ client: some TestClientProtocol) async throws -> [[String: Any]] {
        try await client.execute(uri: "/v1/rankings/\(Build.model)", method: .get) { response in
            try json(response.body)["endpoints"] as! [[String: Any]]
        }
    }

    @Test func overridesShowEverywhereAndEnd() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let start = clock.now()
        let (app, ranker) = try RankdApplication.build(testConfiguration(dir), clock: clock, logger: quietLogger, epochLoop: false)
        for provider in ["fast", "steady", "slow"] {
            await ranker.record(
                Build.observations(id(provider), count: 60, end: clock.now(), ttftMilliseconds: provider == "fast" ? 100 : 500))
        }
        try await ranker.computeAndPublish(.scheduled)

        try await app.test(.router) { client in
            #expect(try await order(client).first?["provider"] as? String == "fast")

            // Refused without the token, with a wrong body, for an unknown endpoint: nothing recorded.
            let demoteFast: [String: Any] = [
                "endpoint_id": id("fast"), "action": "demote", "note": "INC-7: 5xx spike seen by the gateway", "expires_in_seconds": 600,
                "author": "ana",
            ]
            try await client.execute(uri: "/v1/admin/overrides", method: .post, body: try body(demoteFast)) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/v1/admin/overrides", method: .post, headers: admin, body: try body(["endpoint_id": id("fast"), "action": "mute"])
            ) { response in
                #expect(response.status == .badRequest)
                let fields = (try json(response.body)["fields"] as! [[String: Any]]).map { $0["field"] as! String }
                #expect(fields == ["action", "note", "expires_in_seconds"])
            }
            var unknown = demoteFast
            unknown["endpoint_id"] = "nobody:x/y"
            try await client.execute(uri: "/v1/admin/overrides", method: .post, headers: admin, body: try body(unknown)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/v1/overrides?include=ended", method: .get) { response in
                let overrides = try json(response.body)["overrides"] as! [Any]
                #expect(overrides.isEmpty)
            }

            // Force-demote fast: 201, a new epoch, published at once.
            let demoteID = try await client.execute(uri: "/v1/admin/overrides", method: .post, headers: admin, body: try body(demoteFast)) {
                response in
                #expect(response.status == .created)
                let answer = try json(response.body)
                #expect((answer["epoch"] as! [String: Any])["trigger"] as? String == "override")
                let override = answer["override"] as! [String: Any]
                #expect(override["active"] as? Bool == true)
                #expect(override["expires_at"] as? String == RFC3339.format(start.adding(seconds: 600)))
                return override["id"] as! Int
            }
            let entries = try await order(client)
            #expect(entries.map { $0["provider"] as! String }.last == "fast")
            let fast = entries.last!
            #expect(fast["status"] as? String == "demoted")
            #expect((fast["reasons"] as! [String]).first == "operator_demoted")
            #expect(fast["demoted_since"] as? String == RFC3339.format(start))
            #expect((fast["override"] as! [String: Any])["note"] as? String == "INC-7: 5xx spike seen by the gateway")

            // Routing answers carry it too: quality order puts fast last.
            try await client.execute(
                uri: "/v1/route", method: .post, body: try body(["model": Build.model, "parameters": ["tools"]])
            ) { response in
                let routed = try json(response.body)["endpoints"] as! [[String: Any]]
                #expect(routed.last?["provider"] as? String == "fast")
                #expect(routed.last?["override"] is [String: Any])
            }

            // Pin slow: supersedes nothing (other endpoint), goes first.
            clock.advance(seconds: 10)
            try await client.execute(
                uri: "/v1/admin/overrides", method: .post, headers: admin,
                body: try body(["endpoint_id": id("slow"), "action": "pin", "note": "canary", "expires_in_seconds": 60])
            ) { #expect($0.status == .created) }
            #expect(try await order(client).map { $0["provider"] as! String } == ["slow", "steady", "fast"])

            // A second override of fast supersedes the first.
            clock.advance(seconds: 10)
            let undemoteID = try await client.execute(
                uri: "/v1/admin/overrides", method: .post, headers: admin,
                body: try body(["endpoint_id": id("fast"), "action": "undemote", "note": "false alarm", "expires_in_seconds": 3600])
            ) { response in
                #expect(response.status == .created)
                return (try json(response.body)["override"] as! [String: Any])["id"] as! Int
            }
            try await client.execute(uri: "/v1/overrides", method: .get) { response in
                let active = try json(response.body)["overrides"] as! [[String: Any]]
                #expect(Set(active.map { $0["action"] as! String }) == ["pin", "undemote"])
            }
            try await client.execute(uri: "/v1/overrides?include=ended", method: .get) { response in
                let all = try json(response.body)["overrides"] as! [[String: Any]]
                #expect(all.count == 3)
                let first = all.first { $0["id"] as? Int == demoteID }!
                #expect(first["active"] as? Bool == false)
                #expect(first["revoke_note"] as? String == "superseded by override \(undemoteID)")
            }

            // The pin expires: the ranker says an epoch is due, and it publishes without it.
            clock.advance(seconds: 50)
            #expect(await ranker.overrideExpiryDue())
            try await ranker.computeAndPublish(.override)
            #expect(await !ranker.overrideExpiryDue())
            #expect(try await order(client).first?["provider"] as? String == "fast")

            // Withdraw the undemote: 200, then 409 the second time, 404 for no such id.
            try await client.execute(uri: "/v1/admin/overrides/\(undemoteID)?note=done", method: .delete, headers: admin) { response in
                #expect(response.status == .ok)
                let override = try json(response.body)["override"] as! [String: Any]
                #expect(override["revoke_note"] as? String == "done")
                #expect(override["active"] as? Bool == false)
            }
            try await client.execute(uri: "/v1/admin/overrides/\(undemoteID)", method: .delete, headers: admin) {
                #expect($0.status == .conflict)
            }
            try await client.execute(uri: "/v1/admin/overrides/999", method: .delete, headers: admin) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/admin/overrides/\(undemoteID)", method: .delete) { #expect($0.status == .unauthorized) }
            #expect(try await order(client).allSatisfy { $0["override"] is NSNull })

            // History is the audit trail of what was published.
            try await client.execute(uri: "/v1/history?model=\(Build.model)&provider=fast&since=\(RFC3339.format(start))", method: .get) {
                response in
                let points = try json(response.body)["epochs"] as! [[String: Any]]
                let fast = points.map { ($0["endpoints"] as! [[String: Any]]).first! }
                #expect(fast.map { $0["status"] as! String } == ["ok", "demoted", "demoted", "ok", "ok", "ok"])
                #expect(
                    fast.map { ($0["override"] as? [String: Any])?["action"] as? String } == [
                        nil, "demote", "demote", "undemote", "undemote", nil,
                    ])
            }
        }
    }

    @Test func overridesSurviveARestart() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        do {
            let (_, ranker) = try RankdApplication.build(testConfiguration(dir), clock: clock, logger: quietLogger, epochLoop: false)
            let made = try await ranker.applyOverride(
                OverrideRequest(endpointID: id("steady"), action: .disable, note: "maintenance", expiry: .after(seconds: 600)))
            #expect(made?.1.ranking(for: Build.model)?.endpoints.last?.status == .disabled)
        }
        clock.advance(seconds: 60)
        let (_, ranker) = try RankdApplication.build(testConfiguration(dir), clock: clock, logger: quietLogger, epochLoop: false)
        #expect(try await ranker.overrides(includeEnded: false).map(\.action) == [.disable])
        let epoch = try await ranker.computeAndPublish(.scheduled)
        let steady = epoch.ranking(for: Build.model)!.endpoints.first { $0.provider == "steady" }!
        #expect(steady.status == .disabled)
        #expect(steady.reasons == [ReasonCode.operatorDisabled])
    }
}
