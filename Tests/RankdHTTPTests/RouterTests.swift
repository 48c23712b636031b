import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RankdCore
import RankdDaemon
import RankdServer
import RankdDaemonTestKit
import RankdTestKit
import Testing

/// The HTTP routes through `app.test(.router)`, over a real Ranker and stores in a temp directory.
@Suite struct RouterTests {
    func withApp(_ body: @Sendable (any TestClientProtocol, Ranker, ManualClock) async throws -> Void) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let (app, ranker) = try RankdApplication.build(testConfiguration(dir), clock: clock, logger: quietLogger, epochLoop: false)
        try await app.test(.router) { client in try await body(client, ranker, clock) }
    }


    @Test func healthAndReadiness() async throws {
        try await withApp { client, ranker, _ in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            try await client.execute(uri: "/v1/rankings", method: .get) { #expect($0.status == .serviceUnavailable) }
            try await ranker.computeAndPublish(.startup)
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body["epoch_id"] as? Int == 1)
            }
        }
    }

    @Test func rankingsHaveTheDocumentedShape() async throws {
        try await withApp { client, ranker, clock in
            await ranker.record(Build.observations(id("fast"), count: 100, end: clock.now(), failEvery: 3, ttftMilliseconds: 150))
            await ranker.record(Build.observations(id("steady"), count: 100, end: clock.now()))
            await ranker.record(Build.observations(id("slow"), count: 100, end: clock.now(), ttftMilliseconds: 900))
            try await ranker.computeAndPublish(.scheduled)
            try await client.execute(uri: "/v1/rankings", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let body = try json(response.body)
                let epoch = body["epoch"] as! [String: Any]
                #expect(epoch["id"] as? Int == 1)
                #expect(epoch["policy_hash"] as? String == Policy.default.hash)
                #expect((epoch["computed_at"] as? String)?.hasSuffix("Z") == true)
                let models = body["models"] as! [String: [[String: Any]]]
                #expect(Set(models.keys) == [Build.model, "acme/solo-1"])
                let entries = models[Build.model]!
                #expect(entries.map { $0["rank"] as! Int } == [1, 2, 3])
                let last = entries[2]
                #expect(last["endpoint_id"] as? String == id("fast"))
                #expect(last["status"] as? String == "demoted")
                #expect(last["reasons"] as? [String] == ["tool_call_failure_outlier"])
                #expect(last["demoted_until"] is String)
                for key in ["provider", "base_url", "upstream_model", "score", "components", "samples", "explanation"] {
                    #expect(last[key] != nil, "entry lacks \(key)")
                }
                #expect((last["samples"] as! [String: Int])["live"] == 100)
                #expect((entries[0]["demoted_until"]) is NSNull)
                let solo = models["acme/solo-1"]![0]
                #expect(solo["status"] as? String == "insufficient_data")
                #expect(solo["reasons"] as? [String] == ["no_observations"])
            }
        }
    }

    @Test(arguments: ["/v1/rankings/meta-llama/llama-3.3-70b-instruct", "/v1/rankings/meta-llama%2Fllama-3.3-70b-instruct"])
    func modelRouteAcceptsBothSlugForms(uri: String) async throws {
        try await withApp { client, ranker, _ in
            try await ranker.computeAndPublish(.startup)
            try await client.execute(uri: uri, method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body["model"] as? String == Build.model)
                #expect((body["endpoints"] as? [[String: Any]])?.count == 3)
                #expect(Set((body["epoch"] as! [String: Any]).keys).isSuperset(of: ["id", "computed_at", "policy_hash"]))
            }
        }
    }

    @Test func unknownModelIsA404ThatListsKnownModels() async throws {
        try await withApp { client, ranker, _ in
            try await ranker.computeAndPublish(.startup)
            try await client.execute(uri: "/v1/rankings/nobody/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                let body = try json(response.body)
                let message = (body["error"] as! [String: String])["message"]!
                #expect(message.contains("nobody/nothing") && message.contains("acme/solo-1"))
            }
        }
    }

    @Test func etagMakesPollingCheap() async throws {
        try await withApp { client, ranker, clock in
            try await ranker.computeAndPublish(.startup)
            let etag = try await client.execute(uri: "/v1/rankings", method: .get) { response in
                #expect(response.headers[.cacheControl] == "max-age=5")
                return response.headers[.eTag]
            }
            #expect(etag?.hasPrefix("\"epoch-1-") == true)
            #expect(etag == ranker.holder.published?.etag)
            try await client.execute(uri: "/v1/rankings", method: .get, headers: [.ifNoneMatch: etag!]) { response in
                #expect(response.status == .notModified)
                #expect(response.body.readableBytes == 0)
            }
            clock.advance(seconds: 300)
            try await ranker.computeAndPublish(.scheduled)
            try await client.execute(uri: "/v1/rankings", method: .get, headers: [.ifNoneMatch: etag!]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.eTag]?.hasPrefix("\"epoch-2-") == true)
            }
        }
    }

    @Test func cacheMaxAgeComesFromThePolicy() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (app, ranker) = try RankdApplication.build(
            testConfiguration(dir, cacheMaxAgeSeconds: 2), clock: ManualClock(), logger: quietLogger, epochLoop: false)
        try await ranker.computeAndPublish(.startup)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/rankings", method: .get) { #expect($0.headers[.cacheControl] == "max-age=2") }
        }
    }

    @Test func adminRecomputeNeedsTheToken() async throws {
        try await withApp { client, _, _ in
            try await client.execute(uri: "/v1/admin/recompute", method: .post) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/admin/recompute", method: .post, headers: [.authorization: "Bearer wrong-token-0123456789"])
            {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/readyz", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/admin/recompute", method: .post, headers: [.authorization: "Bearer admin-token-0123456789"])
            { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                let epoch = body["epoch"] as! [String: Any]
                #expect(epoch["trigger"] as? String == "admin")
            }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func adminApiIsOffWithoutAToken() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (app, _) = try RankdApplication.build(
            testConfiguration(dir, adminToken: nil), clock: ManualClock(), logger: quietLogger, epochLoop: false)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/admin/recompute", method: .post, headers: [.authorization: "Bearer anything-at-all-here"]) {
                response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("tokens.admin"))
            }
        }
    }

    @Test func metricsListTheDocumentedNames() async throws {
        try await withApp { client, ranker, clock in
            for second in 0..<5 {
                await ranker.record([
                    Observation(
                        endpointID: id("fast"), time: clock.now().adding(seconds: Double(second)), source: .probe, outcome: .http5xx)
                ])
            }
            try await ranker.computeAndPublish(.fastPath)
            try await client.execute(uri: "/v1/rankings", method: .get) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                for name in [
                    "rankd_epochs_total", "rankd_epoch_duration_seconds", "rankd_demotions_total", "rankd_demoted_endpoints",
                    "rankd_current_epoch_id", "rankd_endpoints", "rankd_fast_path_triggers_total", "rankd_observations_total",
                    "rankd_http_requests_total", "rankd_http_request_duration_seconds", "rankd_last_epoch_timestamp_seconds",
                    "rankd_epoch_interval_seconds",
                ] {
                    #expect(text.contains(name), "missing \(name)")
                }
                #expect(text.contains(#"rankd_demotions_total{reason="consecutive_failures"} 1"#))
                #expect(text.contains(#"rankd_epochs_total{trigger="fast_path"} 1"#))
                let demotedLine = text.split(separator: "\n").first {
                    $0.hasPrefix("rankd_endpoint_demoted{") && $0.contains(#"endpoint_id="\#(id("fast"))""#)
                }
                #expect(demotedLine.flatMap { Double($0.split(separator: " ").last!) } == 1, "\(text)")
                let epochTime = text.split(separator: "\n").first { $0.hasPrefix("rankd_last_epoch_timestamp_seconds ") }
                #expect(epochTime.flatMap { Double($0.split(separator: " ")[1]) } == clock.now().secondsSince1970)
                #expect(text.contains(#"rankd_observations_total{source="probe",result="accepted"} 5"#), "\(text)")
            }
        }
    }
}
