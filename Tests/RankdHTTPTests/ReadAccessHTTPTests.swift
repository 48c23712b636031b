import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RankdConfig
import RankdCore
import RankdDaemon
import RankdPlatform
import RankdDaemonTestKit
import RankdServer
import RankdTestKit
import Testing

/// `tokens.read` and `tokens.metrics` on a real socket (so the rankings fast path, which answers
/// before the router, is checked too): every documented read route, with no token, a wrong one,
/// the read token, the admin token and HTTP Basic; health, ingest and admin keep their own rules.
@Suite struct ReadAccessHTTPTests {
    static let read = "read-token-0123456789abcdef"
    static let metrics = "metrics-token-0123456789ab"
    static let admin = "admin-token-0123456789"
    static let ingest = TelemetryFixtures.ingestToken

    static func basic(_ password: String) -> String {
        "Basic " + Data("dashboard:\(password)".utf8).base64EncodedString()
    }

    /// Every documented operation that declares the read scheme, from docs/openapi.yaml, with a
    /// concrete URI for it.
    static func documentedReadRoutes() throws -> [(method: HTTPRequest.Method, uri: String, path: String)] {
        let spec = try YAMLJSON.parse(String(contentsOfFile: RepositoryFiles.path("docs/openapi.yaml"), encoding: .utf8))
        let concrete = [
            "/v1/rankings/{author}/{name}": "/v1/rankings/\(Build.model)", "/v1/epochs/{id}": "/v1/epochs/1",
            "/v1/history": "/v1/history?model=\(Build.model)", "/v1/policies/{hash}": "/v1/policies/\(Policy.default.hash)", "/v1/models/{author}/{name}/endpoints": "/v1/models/\(Build.model)/endpoints",
            "/v1/models/{model}/endpoints": "/v1/models/\(Build.model.replacingOccurrences(of: "/", with: "%2F"))/endpoints",
        ]
        var routes: [(HTTPRequest.Method, String, String)] = []
        for (path, item) in spec.objectValue?["paths"]?.objectValue ?? [:] {
            for (method, operation) in item.objectValue ?? [:] {
                let schemes = (operation.objectValue?["security"]?.arrayValue ?? []).flatMap { $0.objectValue?.keys.map { $0 } ?? [] }
                guard schemes.contains("read") else { continue }
                routes.append((HTTPRequest.Method(method.uppercased())!, concrete[path] ?? path, path))
            }
        }
        return routes.sorted { $0.1 < $1.1 }
    }

    /// The daemon with these tokens (admin and ingest always), one epoch published.
    static func publishedApp(_ dir: TemporaryDirectory, clock: SystemClock, read: String?, metrics: String?) async throws
        -> RankdApplication.App
    {
        var loaded = testConfiguration(dir, adminToken: admin)
        loaded.ingestToken = ingest
        loaded.readToken = read
        loaded.metricsToken = metrics
        let (app, ranker) = try RankdApplication.build(loaded, clock: clock, logger: quietLogger, epochLoop: false)
        for provider in ["fast", "steady", "slow"] { await ranker.record(Build.observations(id(provider), count: 60, end: clock.now())) }
        try await ranker.computeAndPublish(.scheduled)
        return app
    }

    @Test func everyReadRouteNeedsTheReadTokenWhenOneIsSet() async throws {
        let routes = try Self.documentedReadRoutes()
        // The dashboard, rankings (all, one model), route, history, epochs, one epoch, overrides,
        // metrics, a model's endpoints (two forms), benchmarks, a policy, the cluster.
        #expect(routes.count == 14, "\(routes.map(\.path))")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = SystemClock()
        let app = try await Self.publishedApp(dir, clock: clock, read: Self.read, metrics: Self.metrics)
        try await app.test(.live) { client in
            func status(_ method: HTTPRequest.Method, _ uri: String, _ authorization: String?, acceptGzip: Bool = false) async throws -> (
                HTTPResponse.Status, HTTPFields, String
            ) {
                var headers: HTTPFields = [:]
                if let authorization { headers[.authorization] = authorization }
                if acceptGzip { headers[.acceptEncoding] = "gzip" }
                var body: ByteBuffer? = nil
                if method == .post {
                    headers[.contentType] = "application/json"
                    body = ByteBuffer(string: "{\"model\":\"\(Build.model)\"}")
                }
                return try await client.execute(uri: uri, method: method, headers: headers, body: body) {
                    ($0.status, $0.headers, String(buffer: $0.body))
                }
            }
            for route in routes {
                let label = "\(route.method) \(route.uri)"
                let isMetrics = route.path == "/metrics"
                for gzip in [false, true] {
                    let (missing, headers, body) = try await status(route.method, route.uri, nil, acceptGzip: gzip)
                    #expect(missing == .unauthorized, "\(label) without a token")
                    #expect(headers[values: .wwwAuthenticate].contains { $0.hasPrefix("Basic") }, "\(label): a browser is asked")
                    #expect(body.contains(isMetrics ? "tokens.metrics" : "tokens.read"), "\(label): \(body)")
                    #expect(!body.contains("\"models\""), "\(label): no data leaks")
                }
                let (wrong, wrongHeaders, _) = try await status(route.method, route.uri, "Bearer not-the-token-at-all")
                #expect(wrong == .unauthorized, "\(label) with a wrong token")
                #expect(wrongHeaders[values: .wwwAuthenticate].contains { $0.contains("invalid_token") })
                let good = isMetrics ? Self.metrics : Self.read
                for authorization in ["Bearer \(good)", "bearer  \(good)", Self.basic(good), "Bearer \(Self.admin)"] {
                    let (allowed, _, body) = try await status(route.method, route.uri, authorization)
                    #expect(allowed == .ok, "\(label) with \(authorization.prefix(6)): \(body.prefix(200))")
                }
                let (other, _, _) = try await status(route.method, route.uri, isMetrics ? "Bearer \(Self.read)" : "Bearer \(Self.metrics)")
                #expect(other == .unauthorized, "\(label): the other scope's token does not open it")
                let (ingestToken, _, _) = try await status(route.method, route.uri, "Bearer \(Self.ingest)")
                #expect(ingestToken == .unauthorized, "\(label): the ingest token does not read")
            }
            // An unknown path says nothing without the token (401, not 404).
            #expect(try await status(.get, "/v1/nothing-here", nil).0 == .unauthorized)
            #expect(try await status(.get, "/v1/nothing-here", "Bearer \(Self.read)").0 == .notFound)
            // Health stays open for the orchestrator's probes.
            #expect(try await status(.get, "/healthz", nil).0 == .ok)
            #expect(try await status(.get, "/readyz", nil).0 == .ok)
            // Ingest and admin keep their own tokens: the read token opens neither, theirs need no read token.
            let record = TelemetryFixtures.record("ra-1", at: clock.now())
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: [.authorization: "Bearer \(Self.ingest)", .contentType: "application/json"],
                body: ByteBuffer(string: record)
            ) { #expect($0.status == .ok) }
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: [.authorization: "Bearer \(Self.read)", .contentType: "application/json"],
                body: ByteBuffer(string: record)
            ) { #expect($0.status == .unauthorized) }
            #expect(try await status(.post, "/v1/admin/recompute", "Bearer \(Self.admin)").0 == .ok)
            #expect(try await status(.post, "/v1/admin/recompute", "Bearer \(Self.read)").0 == .unauthorized)
        }
    }

    @Test func metricsTokenAloneLeavesOtherReadsOpen() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let app = try await Self.publishedApp(dir, clock: SystemClock(), read: nil, metrics: Self.metrics)
        try await app.test(.live) { client in
            try await client.execute(uri: "/v1/rankings", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(Self.metrics)"]) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains("rankd_"))
            }
        }
    }
}
