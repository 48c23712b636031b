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
        }
    }
}
