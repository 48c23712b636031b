import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RankdConfig
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdServer
import RankdTestKit
import Synchronization
import Testing

/// `docs/openapi.yaml` against the real server: every route the router has is documented, every
/// documented operation is called, and every answer (status, media type, JSON body) matches the
/// document's strict schemas.
@Suite struct OpenAPIConformanceTests {
    let spec: JSONValue
    let token = "admin-token-0123456789"

    init() throws {
        spec = try YAMLJSON.parse(String(contentsOfFile: RepositoryFiles.path("docs/openapi.yaml"), encoding: .utf8))
    }

    /// Follows `$ref`s (local ones, `#/a/b`) everywhere in a value.
    func resolved(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            if let reference = object["$ref"]?.stringValue {
                var target = spec
                for part in reference.dropFirst(2).split(separator: "/") { target = target.objectValue?[String(part)] ?? .null }
                return resolved(target)
            }
            return .object(object.mapValues(resolved))
        case .array(let items):
            return .array(items.map(resolved))
        default:
            return value
        }
    }

    var paths: [String: JSONValue] { spec.objectValue?["paths"]?.objectValue ?? [:] }

    /// `/v1/epochs/{id}` and `/v1/epochs/:id` both become `/v1/epochs/{}`.
    static func shape(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") || part.hasPrefix(":") ? "{}" : String(part)
        }.joined(separator: "/")
    }

    /// Problems with one answer; empty when it matches the document.
    func problems(method: String, path: String, status: Int, contentType: String?, body: String) -> [String] {
        guard let operation = paths[path]?.objectValue?[method.lowercased()] else { return ["\(method) \(path) is not documented"] }
        guard let response = resolved(operation).objectValue?["responses"]?.objectValue?[String(status)]?.objectValue else {
            return ["\(method) \(path) answered \(status), which is not documented"]
        }
        guard let content = response["content"]?.objectValue else {
            return body.isEmpty ? [] : ["\(method) \(path) \(status) has a body but none is documented"]
        }
        let mediaType = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let media = content[mediaType]?.objectValue else {
            return ["\(method) \(path) \(status) answered \(mediaType), documented: \(content.keys.sorted())"]
        }
        guard mediaType == "application/json" else { return [] }
        guard let json = JSONValue.parse(Data(body.utf8)) else { return ["\(method) \(path) \(status): body is not JSON"] }
        return JSONSchemaValidator.violations(of: json, against: media["schema"] ?? .object([:])).map {
            "\(method) \(path) \(status): \($0)"
        }
    }

    /// The documented request body schema accepts `body`.
    func requestProblems(method: String, path: String, body: [String: Any]) throws -> [String] {
        let operation = resolved(paths[path]?.objectValue?[method.lowercased()] ?? .null)
        let schema = operation.objectValue?["requestBody"]?.objectValue?["content"]?.objectValue?["application/json"]?.objectValue?[
            "schema"]
        let json = try #require(JSONValue.parse(try JSONSerialization.data(withJSONObject: body)))
        return JSONSchemaValidator.violations(of: json, against: try #require(schema))
    }

    final class Calls: Sendable {
        let seen = Mutex<Set<String>>([])
        let problems = Mutex<[String]>([])
        func add(_ method: String, _ path: String) { _ = seen.withLock { $0.insert("\(method.uppercased()) \(path)") } }
        var all: Set<String> { seen.withLock { $0 } }
        func fail(_ found: [String]) { problems.withLock { $0 += found } }
        var failures: [String] { problems.withLock { $0 } }
    }

    @Test func everyRouteIsDocumentedAndAnswersAsDocumented() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let start = clock.now()
        var loaded = testConfiguration(dir)
        loaded.ingestToken = "ingest-token-0123456789"
        let (app, ranker) = try RankdApplication.build(loaded, clock: clock, logger: quietLogger, epochLoop: false)
        let policy = loaded.policy
        let calls = Calls()
        let admin: HTTPFields = [.authorization: "Bearer \(token)"]

        try await app.test(.router) { client in
            func call(
                _ method: HTTPRequest.Method, _ uri: String, documentedAs path: String, expect status: Int, headers: HTTPFields = [:],
                json: [String: Any]? = nil
            ) async throws -> (String, HTTPFields) {
                calls.add(method.rawValue, path)
                if let json {
                    // The documented request schema accepts what the server accepts and rejects what it answers 400 to.
                    let rejected = try requestProblems(method: method.rawValue, path: path, body: json)
                    if status < 300 { calls.fail(rejected) }
                    if status == 400 && rejected.isEmpty {
                        calls.fail(["\(method) \(uri): the documented schema accepts a body the server rejects"])
                    }
                }
                let body = try json.map { ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: $0)) }
                var headers = headers
                if json != nil && headers[.contentType] == nil { headers[.contentType] = "application/json" }
                return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                    let text = String(buffer: response.body)
                    if response.status.code != status {
                        calls.fail(["\(method) \(uri): \(response.status.code), wanted \(status): \(text)"])
                    }
                    calls.fail(
                        problems(
                            method: method.rawValue, path: path, status: response.status.code, contentType: response.headers[.contentType],
                            body: text))
                    return (text, response.headers)
                }
            }
            let model = "/v1/rankings/{author}/{name}"
            // Before the first epoch.
            _ = try await call(.get, "/readyz", documentedAs: "/readyz", expect: 503)
            _ = try await call(.get, "/v1/rankings", documentedAs: "/v1/rankings", expect: 503)
            _ = try await call(.get, "/v1/rankings/\(Build.model)", documentedAs: model, expect: 503)
            _ = try await call(.post, "/v1/route", documentedAs: "/v1/route", expect: 503, json: ["model": Build.model])
            let listing = "/v1/models/{author}/{name}/endpoints"
            _ = try await call(.get, "/v1/models/\(Build.model)/endpoints", documentedAs: listing, expect: 503)

            for provider in ["fast", "steady", "slow"] {
                await ranker.record(
                    Build.observations(id(provider), count: 60, end: clock.now(), ttftMilliseconds: provider == "fast" ? 100 : 500))
            }
            try await ranker.computeAndPublish(.scheduled)
            clock.advance(seconds: 60)
            await ranker.record(
                Build.observations(id("fast"), count: 100, end: clock.now(), spanSeconds: 59, failEvery: 2, ttftMilliseconds: 100))
            try await ranker.computeAndPublish(.scheduled)

            _ = try await call(.get, "/", documentedAs: "/", expect: 200)
            _ = try await call(.get, "/healthz", documentedAs: "/healthz", expect: 200)
            _ = try await call(.get, "/readyz", documentedAs: "/readyz", expect: 200)
            _ = try await call(.get, "/metrics", documentedAs: "/metrics", expect: 200)
            _ = try await call(.get, "/v1/cluster", documentedAs: "/v1/cluster", expect: 200)

            // Overrides (so entries carry one).
            let demote: [String: Any] = [
                "endpoint_id": id("slow"), "action": "demote", "note": "conformance", "expires_in_seconds": 600, "author": "ci",
            ]
            _ = try await call(.post, "/v1/admin/overrides", documentedAs: "/v1/admin/overrides", expect: 201, headers: admin, json: demote)
            let (pinned, _) = try await call(
                .post, "/v1/admin/overrides", documentedAs: "/v1/admin/overrides", expect: 201, headers: admin,
                json: [
                    "endpoint_id": id("steady"), "action": "pin", "note": "canary",
                    "expires_at": RFC3339.format(clock.now().adding(seconds: 60)),
                ])
            let pinID = try #require(JSONValue.parse(Data(pinned.utf8))?.objectValue?["override"]?.objectValue?["id"]?.numberValue)
            _ = try await call(.post, "/v1/admin/overrides", documentedAs: "/v1/admin/overrides", expect: 401, json: demote)
            _ = try await call(
                .post, "/v1/admin/overrides", documentedAs: "/v1/admin/overrides", expect: 400, headers: admin, json: ["action": "mute"])
            var unknown = demote
            unknown["endpoint_id"] = "nobody:x/y"
            _ = try await call(
                .post, "/v1/admin/overrides", documentedAs: "/v1/admin/overrides", expect: 404, headers: admin, json: unknown)
            _ = try await call(.get, "/v1/overrides", documentedAs: "/v1/overrides", expect: 200)
            _ = try await call(.get, "/v1/overrides?include=ended", documentedAs: "/v1/overrides", expect: 200)
            _ = try await call(.get, "/v1/overrides?include=some", documentedAs: "/v1/overrides", expect: 400)

            // Rankings.
            let (_, headers) = try await call(.get, "/v1/rankings", documentedAs: "/v1/rankings", expect: 200)
            let etag = try #require(headers[.eTag])
            _ = try await call(.get, "/v1/rankings", documentedAs: "/v1/rankings", expect: 304, headers: [.ifNoneMatch: etag])
            _ = try await call(.get, "/v1/rankings/\(Build.model)", documentedAs: model, expect: 200)
            _ = try await call(.get, "/v1/rankings/\(Build.model)", documentedAs: model, expect: 304, headers: [.ifNoneMatch: etag])
            _ = try await call(.get, "/v1/rankings/\(Build.model)?ignore=fast&parameters=tools", documentedAs: model, expect: 200)
            _ = try await call(.get, "/v1/rankings/\(Build.model)?sort=cheapest", documentedAs: model, expect: 400)
            _ = try await call(.get, "/v1/rankings/\(Build.model)?max_price.prompt=0.01", documentedAs: model, expect: 404)
            _ = try await call(.get, "/v1/rankings/nobody/nothing", documentedAs: model, expect: 404)
            _ = try await call(.get, "/v1/models/\(Build.model)/endpoints", documentedAs: listing, expect: 200)
            _ = try await call(.get, "/v1/models/nobody/nothing/endpoints", documentedAs: listing, expect: 404)
            _ = try await call(
                .get, "/v1/models/\(Build.model.replacingOccurrences(of: "/", with: "%2F"))/endpoints", documentedAs: "/v1/models/{model}/endpoints",
                expect: 200)
            _ = try await call(.get, "/v1/rankings/\(Build.model)?preferred_max_latency.p90=2", documentedAs: model, expect: 200)

            // Routing.
            _ = try await call(
                .post, "/v1/route", documentedAs: "/v1/route", expect: 200,
                json: ["model": Build.model, "parameters": ["tools"], "provider": ["ignore": ["slow"], "max_price": ["prompt": 5]]])
            _ = try await call(
                .post, "/v1/route", documentedAs: "/v1/route", expect: 200, json: ["model": Build.model, "request_id": "r-1"])
            _ = try await call(
                .post, "/v1/route", documentedAs: "/v1/route", expect: 400, json: ["model": Build.model, "provider": ["sort": "cheapest"]])
            // OpenRouter's shortcuts, sort object and a context hint.
            _ = try await call(
                .post, "/v1/route", documentedAs: "/v1/route", expect: 200,
                json: [
                    "model": Build.model + ":nitro", "context_tokens": 8_000, "parameters": ["tool_choice"],
                    "provider": [
                        "sort": ["by": "latency", "partition": "none"], "preferred_max_latency": ["p50": 1, "p90": 2.5],
                        "preferred_min_throughput": 20,
                    ],
                ])
            // (An unknown variant in a body is a 400 the schema cannot foresee: a registry slug may end in
            // `:something` itself. OpenRouterFidelityHTTPTests covers it.)
            _ = try await call(.get, "/v1/rankings/\(Build.model):exacto", documentedAs: model, expect: 200)
            _ = try await call(.get, "/v1/rankings/\(Build.model):free", documentedAs: model, expect: 400)
            _ = try await call(
                .post, "/v1/route", documentedAs: "/v1/route", expect: 404,
                json: ["model": Build.model, "provider": ["only": ["nobody"]]])

            // History.
            let since = RFC3339.format(start)
            _ = try await call(.get, "/v1/history?model=\(Build.model)&since=\(since)", documentedAs: "/v1/history", expect: 200)
            _ = try await call(
                .get, "/v1/history?model=\(Build.model)&provider=fast&since=\(since)", documentedAs: "/v1/history", expect: 200)
            _ = try await call(.get, "/v1/history", documentedAs: "/v1/history", expect: 400)
            _ = try await call(.get, "/v1/epochs?since=\(since)", documentedAs: "/v1/epochs", expect: 200)
            _ = try await call(.get, "/v1/epochs?until=soon", documentedAs: "/v1/epochs", expect: 400)
            _ = try await call(.get, "/v1/epochs/2", documentedAs: "/v1/epochs/{id}", expect: 200)
            _ = try await call(.get, "/v1/epochs/999", documentedAs: "/v1/epochs/{id}", expect: 404)
            _ = try await call(.get, "/v1/epochs/two", documentedAs: "/v1/epochs/{id}", expect: 400)
            let (policyText, _) = try await call(
                .get, "/v1/policies/\(policy.hash)", documentedAs: "/v1/policies/{hash}", expect: 200)
            // What a hash in history names is the policy in force, key by key.
            let read = try #require(try json(ByteBuffer(string: policyText))["policy"] as? [String: Any])
            #expect((read["benchmarks"] as? [String: Any])?["max_age_days"] as? Double == policy.benchmarks.maxAgeDays)
            #expect((read["weights"] as? [String: Any])?["tool_call_success"] as? Double == policy.weights.toolCallSuccess)
            _ = try await call(.get, "/v1/policies/0000000000000000", documentedAs: "/v1/policies/{hash}", expect: 404)

            // Ingest.
            let ingest: HTTPFields = [.authorization: "Bearer ingest-token-0123456789"]
            let record: [String: Any] = [
                "request_id": "oa-1", "timestamp": RFC3339.format(clock.now()), "model": Build.model, "provider": "fast", "status": 200,
                "ttft_ms": 300, "latency_ms": 1200, "tools_offered": true, "tool_call_valid": true,
            ]
            _ = try await call(.post, "/v1/telemetry", documentedAs: "/v1/telemetry", expect: 200, headers: ingest, json: record)
            _ = try await call(
                .post, "/v1/telemetry", documentedAs: "/v1/telemetry", expect: 400, headers: ingest, json: ["request_id": "oa-2"])
            _ = try await call(.post, "/v1/telemetry", documentedAs: "/v1/telemetry", expect: 401, json: record)
            _ = try await call(
                .post, "/v1/traces", documentedAs: "/v1/traces", expect: 200, headers: ingest,
                json: [
                    "resourceSpans": [
                        ["scopeSpans": [["spans": [["traceId": "ab", "spanId": "cd", "name": "db", "endTimeUnixNano": "1"]]]]]
                    ]
                ])
            _ = try await call(.post, "/v1/traces", documentedAs: "/v1/traces", expect: 401, json: ["resourceSpans": []])

            // Admin.
            _ = try await call(.post, "/v1/admin/recompute", documentedAs: "/v1/admin/recompute", expect: 200, headers: admin)
            _ = try await call(.post, "/v1/admin/recompute", documentedAs: "/v1/admin/recompute", expect: 401)
            // Built without a configuration file: nothing to re-read (ReloadHTTPTests covers 200 and 422).
            _ = try await call(.post, "/v1/admin/reload", documentedAs: "/v1/admin/reload", expect: 409, headers: admin)
            _ = try await call(.post, "/v1/admin/reload", documentedAs: "/v1/admin/reload", expect: 401)
            let withdraw = "/v1/admin/overrides/{id}"
            _ = try await call(.delete, "/v1/admin/overrides/\(Int(pinID))?note=done", documentedAs: withdraw, expect: 200, headers: admin)
            _ = try await call(.delete, "/v1/admin/overrides/\(Int(pinID))", documentedAs: withdraw, expect: 409, headers: admin)
            _ = try await call(.delete, "/v1/admin/overrides/999", documentedAs: withdraw, expect: 404, headers: admin)
            _ = try await call(.delete, "/v1/admin/overrides/x", documentedAs: withdraw, expect: 400, headers: admin)
            _ = try await call(.delete, "/v1/admin/overrides/1", documentedAs: withdraw, expect: 401)

            // Benchmark scores by API.
            let scores: [String: Any] = [
                "scores": [["endpoint_id": "fast:\(Build.model)", "benchmark": "tau2", "score": 0.5, "source": "eval", "date": "2025-12-01"]]
            ]
            let benchmarks = "/v1/admin/benchmarks"
            _ = try await call(.put, benchmarks, documentedAs: benchmarks, expect: 200, headers: admin, json: scores)
            _ = try await call(
                .put, benchmarks, documentedAs: benchmarks, expect: 400, headers: admin,
                json: ["scores": [["endpoint_id": "fast:\(Build.model)", "benchmark": "tau2", "score": 1.5, "source": "eval", "date": "2025-12-01"]]])
            _ = try await call(.put, benchmarks, documentedAs: benchmarks, expect: 401, json: scores)
            _ = try await call(.get, "/v1/benchmarks", documentedAs: "/v1/benchmarks", expect: 200)
            _ = try await call(.get, "/v1/benchmarks?uploads=x", documentedAs: "/v1/benchmarks", expect: 400)
        }
        #expect(calls.failures.isEmpty, "\(calls.failures.joined(separator: "\n"))")

        // Every documented operation was called.
        var documented: Set<String> = []
        for (path, item) in paths {
            for method in (item.objectValue ?? [:]).keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(documented.subtracting(calls.all).isEmpty, "documented but not exercised: \(documented.subtracting(calls.all).sorted())")

        // Every route of the router is documented (`rankings/**` is the model slug's two segments).
        let router = buildRouter(
            ServerDependencies(
                holder: EpochHolder(), metrics: RankdMetrics(), adminToken: token,
                history: HistorySource(epochs: { _, _, _ in [] }, epoch: { _ in nil }),
                overrides: OverrideSource(apply: { _ in nil }, revoke: { _, _ in nil }, list: { _ in [] }),
                ingest: IngestSink(token: nil, resolve: { _ in TelemetryResolver.Resolution() }, submit: { _ in IngestCommitted() }),
                clock: clock,
                benchmarks: BenchmarkSource(
                    replace: { _, _, _, _ in throw CancellationError() }, list: { _ in throw CancellationError() }),
                recompute: { throw CancellationError() }))
        let documentedShapes = Set(
            documented.map { entry in
                let parts = entry.split(separator: " ")
                return "\(parts[0]) \(Self.shape(String(parts[1])))"
            })
        for route in router.routes {
            let path = "\(route.path)".replacingOccurrences(of: "**", with: "{}/{}")
            let shaped = "\(route.method.rawValue) \(Self.shape(path.hasPrefix("/") ? path : "/" + path))"
            #expect(documentedShapes.contains(shaped), "\(route) is not in docs/openapi.yaml (as \(shaped))")
        }
        #expect(router.routes.count == documented.count, "\(router.routes.map(\.description)) vs \(documented.sorted())")
    }
}
