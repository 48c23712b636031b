import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RankdConfig
import RankdCore
import RankdPlatform
import RankdDaemon
import RankdDaemonTestKit
import RankdOTLP
import RankdStore
import RankdTestKit
import Testing

/// `POST /v1/traces` with both OTLP encodings: GenAI spans counted, others ignored, bad ones
/// reported in the partial success, exporter retries deduplicated.
@Suite struct TracesHTTPTests {
    static let token = "ingest-token-0123456789"

    func span(_ id: String, provider: String?, end: Timestamp, error: Bool = false, genAI: Bool = true) -> (
        span: OTLPSpan, resource: [String: OTLPValue]
    ) {
        var attributes: [String: OTLPValue] = ["http.route": .string("/chat")]
        if genAI {
            attributes["gen_ai.operation.name"] = .string("chat")
            attributes["gen_ai.request.model"] = .string(Build.model)
            attributes["gen_ai.usage.input_tokens"] = .int(900)
            attributes["gen_ai.usage.output_tokens"] = .int(120)
            attributes["gen_ai.response.finish_reasons"] = .array([.string(error ? "error" : "stop")])
            if let provider { attributes["gen_ai.provider.name"] = .string(provider) }
            if error { attributes["error.type"] = .string("timeout") }
        }
        let endNanos = UInt64(end.secondsSince1970 * 1e9)
        return (
            OTLPSpan(
                traceID: "0af7651916cd43dd8448eb211c80319c", spanID: id, name: "chat", startNanos: endNanos - 1_500_000_000,
                endNanos: endNanos,
                attributes: attributes, statusCode: error ? 2 : 1),
            ["service.name": .string("gateway")]
        )
    }

    func stored(_ dir: TemporaryDirectory) throws -> [Outcome: Int64] {
        var counts: [Outcome: Int64] = [:]
        for bucket in try storedBuckets(dir) where bucket.source == .live {
            for outcome in Outcome.allCases { counts[outcome, default: 0] += bucket.tally.count(outcome) }
        }
        return counts.filter { $0.value > 0 }
    }

    @Test func protobufAndJSONExportsAreCountedOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var loaded = testConfiguration(dir)
        loaded.ingestToken = Self.token
        let clock = SystemClock()
        let (app, _) = try RankdApplication.build(loaded, clock: clock, logger: quietLogger, epochLoop: false)
        try await app.test(.live) { client in
            let now = clock.now()
            let export = try OTLPProtobuf.request([
                span("00f067aa0ba902b7", provider: "fast", end: now),
                span("00f067aa0ba902b8", provider: "steady", end: now, error: true),
                span("00f067aa0ba902b9", provider: nil, end: now, genAI: false),
                span("00f067aa0ba902ba", provider: "nobody", end: now),
            ])
            let protobuf: HTTPFields = [.authorization: "Bearer \(Self.token)", .contentType: "application/x-protobuf"]
            try await client.execute(uri: "/v1/traces", method: .post, headers: protobuf, body: ByteBuffer(bytes: export)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/x-protobuf")
                let (rejected, message) = try OTLPProtobuf.partialSuccess(Data(response.body.readableBytesView))
                #expect(rejected == 1)
                #expect(message.contains("unknown provider nobody"))
            }
            // The exporter retries the same export: nothing is counted twice.
            try await client.execute(uri: "/v1/traces", method: .post, headers: protobuf, body: ByteBuffer(bytes: export)) {
                #expect($0.status == .ok)
            }
            // OTLP/JSON: hex ids, string nanoseconds, camelCase.
            let end = UInt64(now.secondsSince1970 * 1e9)
            let json = """
                {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gw"}}]},
                 "scopeSpans":[{"scope":{"name":"gw"},"spans":[
                  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat",
                   "startTimeUnixNano":"\(end - 900_000_000)","endTimeUnixNano":"\(end)","kind":3,
                   "attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"\(Build.model)"}},
                                 {"key":"gen_ai.system","value":{"stringValue":"slow"}},
                                 {"key":"gen_ai.usage.output_tokens","value":{"intValue":"42"}},
                                 {"key":"http.response.status_code","value":{"intValue":503}}],
                   "status":{"code":2,"message":"upstream 503"}},
                  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"db",
                   "startTimeUnixNano":"\(end - 5_000_000)","endTimeUnixNano":"\(end)"}]}]}]}
                """
            let jsonHeaders: HTTPFields = [.authorization: "Bearer \(Self.token)", .contentType: "application/json"]
            try await client.execute(uri: "/v1/traces", method: .post, headers: jsonHeaders, body: ByteBuffer(string: json)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "{}", "every GenAI span taken: no partial success")
            }
            try await client.execute(
                uri: "/v1/traces", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{\"resourceSpans\": 3")
            ) {
                #expect($0.status == .badRequest)
            }
            try await client.execute(
                uri: "/v1/traces", method: .post, headers: [.contentType: "application/x-protobuf"], body: ByteBuffer(bytes: export)
            ) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/traces", method: .post, headers: protobuf, body: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF])) {
                #expect($0.status == .badRequest)
            }
        }
        // fast ok, steady timeout (span error without HTTP status), slow http_5xx: once each.
        #expect(try stored(dir) == [.ok: 1, .timeout: 1, .http5xx: 1])
    }
}
