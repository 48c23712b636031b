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

/// OpenRouter's model shortcuts and the `provider` fields as OpenRouter documents them, one row
/// each, against the real router: the answer's status, mode, exclusions and notes.
@Suite struct OpenRouterFidelityHTTPTests {
    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var method: HTTPRequest.Method = .post
        /// The body of `POST /v1/route`, or the URI of a GET.
        var request: String
        var status: HTTPResponse.Status = .ok
        var mode: String?
        var excluded: [String: String] = [:]
        /// A word each note must hold, in order; none expected when empty.
        var notes: [String] = []
        /// A word the error message must hold.
        var error: String?
        /// The providers answered with `below_preference` (checked when given).
        var below: Set<String>?

        var description: String { name }
    }

    static let model = Build.model

    static let rows: [Row] = [
        Row(name: ":nitro sorts by throughput", request: #"{"model": "\#(model):nitro"}"#, mode: "sort_throughput"),
        Row(name: ":floor sorts by price", request: #"{"model": "\#(model):floor"}"#, mode: "sort_price"),
        Row(name: ":exacto is the quality order without tools", request: #"{"model": "\#(model):exacto"}"#, mode: "quality"),
        Row(
            name: ":exacto with provider.sort: the sort decides, noted",
            request: #"{"model": "\#(model):exacto", "provider": {"sort": "price"}}"#, mode: "sort_price", notes: [":exacto"]),
        Row(
            name: ":nitro with another sort: the explicit sort decides, noted",
            request: #"{"model": "\#(model):nitro", "provider": {"sort": "latency"}}"#, mode: "sort_latency", notes: [":nitro"]),
        Row(
            name: ":nitro with provider.order: the order decides, noted",
            request: #"{"model": "\#(model):nitro", "provider": {"order": ["slow"]}}"#, mode: "explicit_order", notes: ["provider.order"]),
        Row(
            name: "an unknown variant is refused, named", request: #"{"model": "\#(model):free"}"#, status: .badRequest,
            error: "\":free\""),
        Row(name: "tool_choice alone asks for the quality order", request: #"{"model": "\#(model)", "parameters": ["tool_choice"]}"#, mode: "quality"),
        Row(
            name: "sort as an object, partition model",
            request: #"{"model": "\#(model)", "provider": {"sort": {"by": "price", "partition": "model"}}}"#, mode: "sort_price"),
        Row(
            name: "sort as an object, partition none: noted",
            request: #"{"model": "\#(model)", "provider": {"sort": {"by": "throughput", "partition": "none"}}}"#, mode: "sort_throughput",
            notes: ["partition none"]),
        Row(
            name: "a misspelt sort key is named",
            request: #"{"model": "\#(model)", "provider": {"sort": {"by": "price", "partitoin": "none"}}}"#, status: .badRequest,
            error: "provider.sort.partitoin"),
        Row(
            name: "a bad partition is named", request: #"{"model": "\#(model)", "provider": {"sort": {"by": "price", "partition": "all"}}}"#,
            status: .badRequest, error: "provider.sort.partition"),
        Row(
            name: "context_tokens excludes short context windows, notes unknown ones",
            request: #"{"model": "\#(model)", "context_tokens": 100000}"#, mode: "price_weighted",
            excluded: ["steady": "context_length"], notes: ["no context_length"]),
        Row(
            name: "context_tokens must be a whole number", request: #"{"model": "\#(model)", "context_tokens": 1.5}"#,
            status: .badRequest, error: "context_tokens"),
        Row(
            name: "enforce_distillable_text keeps endpoints declared distillable",
            request: #"{"model": "\#(model)", "provider": {"enforce_distillable_text": true}}"#, mode: "price_weighted",
            excluded: ["steady": "enforce_distillable_text", "slow": "enforce_distillable_text"]),
        Row(
            name: "max_price.image excludes dearer images, keeps unpriced ones",
            request: #"{"model": "\#(model)", "provider": {"max_price": {"image": 0.001}}}"#, mode: "price_weighted",
            excluded: ["fast": "max_price.image"]),
        Row(
            name: "an unknown max_price key is named", request: #"{"model": "\#(model)", "provider": {"max_price": {"audio": 1}}}"#,
            status: .badRequest, error: "provider.max_price.audio"),
        Row(
            name: "allow_fallbacks false without order: only the top endpoint",
            request: #"{"model": "\#(model)", "provider": {"sort": "latency", "allow_fallbacks": false}}"#, mode: "sort_latency",
            excluded: ["steady": "allow_fallbacks", "slow": "allow_fallbacks"]),
        Row(
            name: "allow_fallbacks false with order: only the listed ones",
            request: #"{"model": "\#(model)", "provider": {"order": ["slow", "steady"], "allow_fallbacks": false}}"#, mode: "explicit_order",
            excluded: ["fast": "allow_fallbacks"]),
        Row(
            name: "GET with enforce_distillable_text and max_price.image", method: .get,
            request: "/v1/rankings/\(model)?enforce_distillable_text=true&max_price.image=1", mode: "price_weighted",
            excluded: ["steady": "enforce_distillable_text", "slow": "enforce_distillable_text"]),
        Row(name: "GET a variant", method: .get, request: "/v1/rankings/\(model):nitro", mode: "sort_throughput"),
        Row(name: "GET an unknown variant", method: .get, request: "/v1/rankings/\(model):online", status: .badRequest, error: "\":online\""),
        // Preferred cut-offs over the rolling 5-minute window. TTFT: fast 150 ms, steady 400 ms
        // with a tail at 3 s (p90 and p99), slow 900 ms; every endpoint 80 tokens/s.
        Row(
            name: "preferred_max_latency as a number is a p50 cut-off",
            request: #"{"model": "\#(model)", "provider": {"preferred_max_latency": 0.5}}"#, mode: "price_weighted", below: ["slow"]),
        Row(
            name: "preferred_max_latency p90: the tail counts",
            request: #"{"model": "\#(model)", "provider": {"preferred_max_latency": {"p90": 1}}}"#, mode: "price_weighted",
            below: ["steady"]),
        Row(
            name: "every percentile given must hold",
            request: #"{"model": "\#(model)", "provider": {"preferred_max_latency": {"p50": 0.5, "p99": 2}}}"#, mode: "price_weighted",
            below: ["steady", "slow"]),
        Row(
            name: "preferred_min_throughput p75 held by all",
            request: #"{"model": "\#(model)", "provider": {"preferred_min_throughput": {"p75": 50}}}"#, mode: "price_weighted", below: []),
        Row(
            name: "preferred_min_throughput missed by all: moved back, none excluded",
            request: #"{"model": "\#(model)", "provider": {"sort": "latency", "preferred_min_throughput": {"p50": 100}}}"#,
            mode: "sort_latency", below: ["fast", "steady", "slow"]),
        Row(
            name: "an unknown percentile is named",
            request: #"{"model": "\#(model)", "provider": {"preferred_max_latency": {"p95": 1}}}"#, status: .badRequest,
            error: "provider.preferred_max_latency.p95"),
        Row(
            name: "GET with a percentile cut-off", method: .get, request: "/v1/rankings/\(model)?preferred_max_latency.p90=1",
            mode: "price_weighted", below: ["steady"]),
        Row(
            name: "GET with context_tokens", method: .get, request: "/v1/rankings/\(model)?context_tokens=100000", mode: "price_weighted",
            excluded: ["steady": "context_length"], notes: ["no context_length"]),
    ]

    @Test(arguments: rows)
    func openRouterRequestGetsItsAnswer(_ row: Row) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var loaded = testConfiguration(dir)
        // Context windows: fast 131,072, steady 32,768, slow unknown. Distillable: fast yes, steady
        // no, slow not declared. Image prices: fast $0.002, others none.
        for index in loaded.configuration.endpoints.indices {
            let provider = loaded.configuration.endpoints[index].provider
            loaded.configuration.endpoints[index].contextLength = ["fast": 131_072, "steady": 32_768][provider]
            loaded.configuration.endpoints[index].distillable = ["fast": true, "steady": false][provider]
            loaded.configuration.endpoints[index].pricing.perImageUSD = ["fast": 0.002][provider]
        }
        let clock = ManualClock()
        let (app, ranker) = try RankdApplication.build(loaded, clock: clock, logger: quietLogger, epochLoop: false)
        for (provider, ttft) in [("fast", 150.0), ("steady", 400), ("slow", 900)] {
            await ranker.record(Build.observations(id(provider), count: 100, end: clock.now(), ttftMilliseconds: ttft))
        }
        await ranker.record(Build.observations(id("steady"), count: 20, end: clock.now(), spanSeconds: 120, ttftMilliseconds: 3_000))
        try await ranker.computeAndPublish(.scheduled)
        try await app.test(.router) { client in
            let (status, body): (HTTPResponse.Status, [String: Any])
            if row.method == .get {
                (status, body) = try await client.execute(uri: row.request, method: .get) { ($0.status, try json($0.body)) }
            } else {
                (status, body) = try await client.execute(
                    uri: "/v1/route", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: row.request)
                ) { ($0.status, try json($0.body)) }
            }
            #expect(status == row.status, "\(row.name): \(body)")
            if let word = row.error {
                let error = body["error"] as? [String: Any]
                let text = "\(error?["message"] ?? "") \(body["fields"] ?? "")"
                #expect(text.contains(word), "\(row.name): \(body)")
                return
            }
            #expect(body["mode"] as? String == row.mode, "\(row.name): \(body)")
            let excluded = Dictionary(
                ((body["excluded"] as? [[String: Any]]) ?? []).map { ($0["provider"] as? String ?? "?", $0["reason"] as? String ?? "?") },
                uniquingKeysWith: { a, _ in a })
            #expect(excluded == row.excluded, "\(row.name): \(body)")
            let notes = (body["notes"] as? [String]) ?? ["(no notes field)"]
            #expect(notes.count == row.notes.count, "\(row.name): \(notes)")
            for (note, word) in zip(notes, row.notes) { #expect(note.contains(word), "\(row.name): \(notes)") }
            if let below = row.below {
                let endpoints = (body["endpoints"] as? [[String: Any]]) ?? []
                #expect(endpoints.count == 3 - row.excluded.count, "\(row.name): \(body)")
                let answered = Set(endpoints.filter { $0["below_preference"] as? Bool == true }.compactMap { $0["provider"] as? String })
                #expect(answered == below, "\(row.name): \(body)")
                // Those below a cut-off come after the others.
                let flags = endpoints.map { $0["below_preference"] as? Bool == true }
                #expect(flags == flags.sorted { !$0 && $1 }, "\(row.name): \(flags)")
            }
        }
    }

    /// `GET /v1/models/{model}/endpoints` in OpenRouter's names and shape: uptime by its rule
    /// over 5 minutes, 30 minutes and the long window equals a count over the records, latency
    /// and throughput percentiles over 30 minutes are within a bin of the exact ones, plus the
    /// tool-call error rate and the tier OpenRouter does not publish.
    @Test func endpointsListingFollowsOpenRouterAndTheRecords() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var loaded = testConfiguration(dir)
        loaded.configuration.endpoints[0].pricing.perImageUSD = 0.002
        let clock = ManualClock(Timestamp(secondsSince1970: 1_767_225_600 + 50 * 60))
        let (app, ranker) = try RankdApplication.build(loaded, clock: clock, logger: quietLogger, epochLoop: false)
        // Over the last 50 minutes, each outcome at its own pace; TTFT and throughput vary.
        var rng = SeededGenerator(seed: 27)
        let outcomes: [Outcome] = [.ok, .ok, .ok, .ok, .http4xx, .http429, .http4xxEndpoint, .http5xx, .timeout, .schemaViolation, .truncated]
        var records: [Observation] = []
        for index in 0..<600 {
            let outcome = outcomes[index % outcomes.count]
            let answered = outcome == .ok || outcome.isToolCallFailure
            records.append(
                Observation(
                    endpointID: id("fast"), time: clock.now().adding(seconds: -Double.random(in: 0..<3_000, using: &rng)),
                    source: index % 3 == 0 ? .probe : .live, outcome: outcome, toolsOffered: outcome.isToolCallFailure || index % 2 == 0,
                    ttftMilliseconds: answered ? Double.random(in: 100...2_000, using: &rng) : nil,
                    outputTokensPerSecond: answered ? Double.random(in: 20...200, using: &rng) : nil))
        }
        await ranker.record(records)
        try await ranker.computeAndPublish(.scheduled)
        let recorded = records
        try await app.test(.router) { client in
            let encoded = Self.model.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            for uri in ["/v1/models/\(Self.model)/endpoints", "/v1/models/\(encoded)/endpoints"] {
                let body = try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    return try json(response.body)
                }
                let data = try #require(body["data"] as? [String: Any])
                #expect(data["id"] as? String == Self.model)
                let endpoints = try #require(data["endpoints"] as? [[String: Any]])
                // The model's endpoints in rank order.
                #expect(Set(endpoints.compactMap { $0["provider_name"] as? String }) == ["fast", "steady", "slow"])
                #expect(endpoints.compactMap { $0["rank"] as? Int } == [1, 2, 3])
                let fast = try #require(endpoints.first { $0["provider_name"] as? String == "fast" })
                for key in [
                    "name", "model_name", "provider_name", "tag", "quantization", "context_length", "pricing", "supported_parameters", "status",
                    "uptime_last_5m", "uptime_last_30m", "uptime_last_1d", "latency_last_30m", "throughput_last_30m", "max_completion_tokens",
                    "max_prompt_tokens", "supports_implicit_caching", "tool_call_error_rate_last_30m", "tier", "endpoint_id", "rank",
                ] {
                    #expect(fast.keys.contains(key), "\(key) missing: \(fast.keys.sorted())")
                }
                #expect(fast["name"] as? String == "fast: \(Self.model)")
                #expect(fast["quantization"] as? String == "fp8")
                #expect(fast["context_length"] as? Int == 131_072)
                let pricing = try #require(fast["pricing"] as? [String: String])
                #expect(pricing == ["prompt": "0.0000005", "completion": "0.0000008", "request": "0", "image": "0.002"])
                // A third of its requests fail: demoted, which OpenRouter's status integer gives as
                // -5; the endpoints without data serve normally (0).
                #expect(fast["rankd_status"] as? String == "demoted")
                #expect(fast["status"] as? Int == -5)
                #expect(fast["tier"] as? String == "demoted")
                #expect(endpoints.filter { $0["provider_name"] as? String != "fast" }.map { $0["status"] as? Int } == [0, 0])
                let now = clock.now().minute
                for (key, minutes) in [("uptime_last_5m", 5), ("uptime_last_30m", 30), ("uptime_last_1d", 1_440)] as [(String, Int64)] {
                    let inside = recorded.filter { $0.time.minute > now - minutes }
                    let counted = inside.filter { $0.outcome.uptimeFailure != nil }
                    let up = counted.filter { $0.outcome.uptimeFailure == false }
                    let expected = Double(up.count) / Double(counted.count) * 100
                    #expect(abs((fast[key] as? Double ?? -1) - expected) < 1e-9, "\(key): \(fast[key] ?? "nil") vs \(expected)")
                }
                let last30 = recorded.filter { $0.time.minute > now - 30 }
                let judged = last30.filter { $0.toolsOffered && ($0.outcome == .ok || $0.outcome.isToolCallFailure) }
                let wrong = judged.filter { $0.outcome.isToolCallFailure }
                #expect(fast["tool_call_error_rate_last_30m"] as? Double == Double(wrong.count) / Double(judged.count))
                #expect(fast["requests_last_30m"] as? Int == last30.count)
                for (key, values) in [
                    ("latency_last_30m", last30.compactMap(\.ttftMilliseconds)), ("throughput_last_30m", last30.compactMap(\.outputTokensPerSecond)),
                ] {
                    let figures = try #require(fast[key] as? [String: Double], "\(key)")
                    for percentile in Percentiles.Percentile.allCases {
                        let sorted = values.sorted()
                        let exact = sorted[max(1, Int((percentile.fraction * Double(sorted.count)).rounded(.up))) - 1]
                        let figure = try #require(figures[percentile.rawValue])
                        #expect(abs(figure / exact - 1) <= LogHistogram.growth - 1 + 1e-9, "\(key).\(percentile): \(figure) vs \(exact)")
                    }
                }
                // Nothing seen: the keys are there, null.
                let slow = try #require(endpoints.first { $0["provider_name"] as? String == "slow" })
                #expect(slow["uptime_last_5m"] is NSNull)
                #expect(slow["latency_last_30m"] is NSNull)
            }
            try await client.execute(uri: "/v1/models/nobody/none/endpoints", method: .get) { response in
                #expect(response.status == .notFound)
                let body = try json(response.body)
                #expect(body["error"] != nil)
            }
            try await client.execute(uri: "/v1/models/\(Self.model)", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
