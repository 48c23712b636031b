import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdTestKit
import Testing

/// `POST /v1/route` and the query form on `GET /v1/rankings/{model}`, through the router.
@Suite struct RouteHTTPTests {
    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let (app, ranker) = try RankdApplication.build(testConfiguration(dir), clock: clock, logger: quietLogger, epochLoop: false)
        await ranker.record(Build.observations(id("fast"), count: 100, end: clock.now(), failEvery: 3, ttftMilliseconds: 150))
        await ranker.record(Build.observations(id("steady"), count: 100, end: clock.now()))
        await ranker.record(Build.observations(id("slow"), count: 100, end: clock.now(), ttftMilliseconds: 900))
        try await ranker.computeAndPublish(.scheduled)
        try await app.test(.router) { client in try await body(client) }
    }

    func post(_ client: any TestClientProtocol, _ body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(
            uri: "/v1/route", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
        ) { response in
            (response.status, try json(response.body))
        }
    }

    /// With tools, each request's order is drawn from the shares: steady (the best) first most of
    /// the time, slow keeps its floor, fast (demoted, share 0) is always last; the answer names its
    /// seed, and the same request id gives the same order.
    @Test func toolRequestsGetAnOrderDrawnFromTheShares() async throws {
        try await withApp { client in
            var firsts: [String: Int] = [:]
            for index in 0..<200 {
                let (status, body) = try await post(
                    client, #"{"model": "\#(Build.model)", "parameters": ["tools"], "request_id": "r-\#(index)"}"#)
                #expect(status == .ok)
                #expect(body["mode"] as? String == "quality" && body["epoch_id"] as? Int == 1)
                #expect(body["seed_source"] as? String == "request_id" && body["seed"] is Int)
                let endpoints = body["endpoints"] as! [[String: Any]]
                #expect(endpoints.last?["provider"] as? String == "fast" && endpoints.last?["status"] as? String == "demoted")
                #expect(endpoints.allSatisfy { $0["below_preference"] as? Bool == false && $0["base_url"] is String })
                #expect(endpoints.allSatisfy { $0["traffic_share"] is Double })
                #expect((body["excluded"] as! [Any]).isEmpty)
                firsts[endpoints[0]["provider"] as! String, default: 0] += 1
            }
            #expect(firsts["fast"] == nil && firsts["steady", default: 0] > 150, "\(firsts)")
            let again = { try await post(client, #"{"model": "\#(Build.model)", "parameters": ["tools"], "request_id": "r-7"}"#).1 }
            let one = try await again()
            let two = try await again()
            #expect(
                (one["endpoints"] as! [[String: Any]]).map { $0["provider"] as! String }
                    == (two["endpoints"] as! [[String: Any]]).map { $0["provider"] as! String })
            // Without seed or request id the server draws a seed per request, and says so.
            let (_, fresh) = try await post(client, #"{"model": "\#(Build.model)", "parameters": ["tools"]}"#)
            #expect(fresh["seed_source"] as? String == "server")
        }
    }

    @Test func preferencesExcludeWithReasonsAndExplicitOrderKeepsDemoted() async throws {
        try await withApp { client in
            let (_, ignored) = try await post(
                client, #"{"model": "\#(Build.model)", "parameters": ["tools"], "provider": {"ignore": ["slow"]}}"#)
            #expect((ignored["excluded"] as! [[String: String]]) == [["endpoint_id": id("slow"), "provider": "slow", "reason": "ignore"]])
            let (_, ordered) = try await post(
                client, #"{"model": "\#(Build.model)", "provider": {"order": ["fast"], "allow_fallbacks": false}}"#)
            #expect(ordered["mode"] as? String == "explicit_order")
            #expect((ordered["endpoints"] as! [[String: Any]]).map { $0["status"] as! String } == ["demoted"])
        }
    }

    @Test func noEligibleEndpointIsA404WithReasons() async throws {
        try await withApp { client in
            let (status, body) = try await post(client, #"{"model": "\#(Build.model)", "parameters": ["tools", "response_format"]}"#)
            #expect(status == .notFound)
            #expect((body["error"] as! [String: String])["code"] == "no_eligible_endpoint")
            #expect(Set((body["excluded"] as! [[String: String]]).map { $0["reason"]! }) == ["unsupported_parameter:response_format"])
        }
    }

    @Test func badBodiesNameTheField() async throws {
        try await withApp { client in
            let (status, body) = try await post(
                client, #"{"model": "\#(Build.model)", "provider": {"sort": "cheapest", "teleport": true}}"#)
            #expect(status == .badRequest)
            let fields = (body["fields"] as! [[String: String]]).map { $0["field"]! }
            #expect(Set(fields) == ["provider.sort", "provider.teleport"])
            let (garbage, _) = try await client.execute(uri: "/v1/route", method: .post, body: ByteBuffer(string: "{nope")) {
                ($0.status, 0)
            }
            #expect(garbage == .badRequest)
            let (unknown, _) = try await post(client, #"{"model": "nobody/nothing"}"#)
            #expect(unknown == .notFound)
        }
    }

    @Test func queryParametersApplyTheSamePreferences() async throws {
        try await withApp { client in
            try await client.execute(uri: "/v1/rankings/\(Build.model)?parameters=tools&ignore=steady&sort=latency", method: .get) {
                response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let body = try json(response.body)
                #expect(body["mode"] as? String == "sort_latency")
                #expect((body["endpoints"] as! [[String: Any]]).map { $0["provider"] as! String } == ["slow", "fast"])
            }
            try await client.execute(uri: "/v1/rankings/\(Build.model)?colour=blue", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("colour"))
            }
            try await client.execute(uri: "/v1/rankings/\(Build.model)?max_price.prompt=0.1", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains("max_price.prompt"))
            }
        }
    }
}
