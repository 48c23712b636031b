import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RankdConfig
import RankdCore
import RankdPlatform
import RankdDaemon
import RankdDaemonTestKit
import RankdStore
import RankdTestKit
import Testing

/// `POST /v1/telemetry` on a real socket: every input variant gives the documented answer and
/// the minute buckets in state.db hold exactly what was accepted. (A full queue and the `rankd
/// ingest` command, which need other processes, are in the end-to-end tests.)
@Suite struct IngestHTTPTests {
    static let ingestToken = TelemetryFixtures.ingestToken

    func configuration(_ dir: TemporaryDirectory, maxBodyBytes: Int = 4 << 20, queueRecords: Int = 100_000) -> LoadedConfiguration {
        TelemetryFixtures.configuration(dir, maxBodyBytes: maxBodyBytes, queueRecords: queueRecords)
    }

    var auth: HTTPFields { [.authorization: "Bearer \(Self.ingestToken)", .contentType: "application/json"] }
    var ndjson: HTTPFields { [.authorization: "Bearer \(Self.ingestToken)", .contentType: "application/x-ndjson"] }

    static func record(
        _ id: String, provider: String = "fast", at time: Timestamp, status: Int = 200, toolCallValid: Bool? = true, extra: String = ""
    ) -> String {
        TelemetryFixtures.record(id, provider: provider, at: time, status: status, toolCallValid: toolCallValid, extra: extra)
    }

    /// Live requests stored in state.db, by endpoint provider.
    func stored(_ dir: TemporaryDirectory) throws -> [String: Int64] { try TelemetryFixtures.storedLive(dir) }

    @Test func everyInputVariantGetsItsDocumentedAnswer() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = SystemClock()
        let (app, daemon) = try RankdApplication.assemble(
            configuration(dir, maxBodyBytes: 64 * 1024), clock: clock, logger: quietLogger, epochLoop: false)
        let ranker = daemon.ranker
        try await app.test(.live) { client in
            let now = clock.now()
            // One record.
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: Self.record("r1", at: now))
            ) {
                response in
                #expect(response.status == .ok)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 1)
                #expect(answer["duplicates"] as? Int == 0)
                #expect((answer["rejected"] as? [Any])?.isEmpty == true)
            }
            // An array with a bad record: the good ones are kept, the bad one named.
            let array =
                "[\(Self.record("r2", at: now)), {\"request_id\":\"r3\",\"timestamp\":\"yesterday\"}, \(Self.record("r4", provider: "steady", at: now))]"
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: array)) { response in
                #expect(response.status == .ok)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 2)
                let rejected = try #require(answer["rejected"] as? [[String: Any]], "\(answer)")
                #expect(rejected.count == 1)
                #expect(rejected.first?["index"] as? Int == 1)
                #expect(rejected.first?["field"] as? String == "timestamp")
            }
            // NDJSON with a line that is not JSON, a content field, an unknown provider, a future and a too-old record.
            let lines = [
                Self.record("n1", at: now),
                "{not json",
                Self.record("n2", at: now, extra: ",\"messages\":[{\"role\":\"user\",\"content\":\"secret\"}]"),
                Self.record("n3", provider: "nobody", at: now),
                "",
                Self.record("n4", at: now.adding(seconds: 600)),
                Self.record("n5", at: now.adding(seconds: -7_200)),
                Self.record("n6", provider: "slow", at: now.adding(seconds: -600), extra: ",\"gateway_region\":\"eu\""),
            ].joined(separator: "\n")
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: ndjson, body: ByteBuffer(string: lines)) { response in
                #expect(response.status == .ok)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 2)
                let rejected = try #require(answer["rejected"] as? [[String: Any]], "\(answer)").map { "\($0["index"] ?? "-") \($0["field"] ?? "-")" }
                #expect(rejected == ["1 $", "2 messages", "3 provider", "4 timestamp", "5 timestamp"])
                #expect((answer["unknown_endpoints"] as? [String: Int])?["\(Build.model) nobody"] == 1)
                #expect(answer["ignored_fields"] as? [String] == ["gateway_region"])
                #expect(!String(buffer: response.body).contains("secret"), "content is never echoed")
            }
            // Replays are acknowledged and not counted again.
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: auth,
                body: ByteBuffer(string: "[\(Self.record("r1", at: now)), \(Self.record("r5", at: now))]")
            ) { response in
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 1)
                #expect(answer["duplicates"] as? Int == 1)
            }
            // atomic=true: one bad record refuses the batch.
            try await client.execute(
                uri: "/v1/telemetry?atomic=true", method: .post, headers: auth,
                body: ByteBuffer(string: "[\(Self.record("a1", at: now)), {\"request_id\":\"a2\"}]")
            ) { response in
                #expect(response.status == .badRequest)
                let answer = try json(response.body)
                #expect(answer["accepted"] as? Int == 0)
            }
            // Not authenticated, wrong token, too large, not JSON, wrong media type: nothing read or kept.
            try await client.execute(uri: "/v1/telemetry", method: .post, body: ByteBuffer(string: Self.record("u1", at: now))) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: [.authorization: "Bearer wrong-token-0123456789"],
                body: ByteBuffer(string: Self.record("u2", at: now))
            ) { #expect($0.status == .unauthorized) }
            let big = "[" + (0..<400).map { Self.record("big\($0)", at: now) }.joined(separator: ",") + "]"
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: big)) {
                #expect($0.status == .contentTooLarge)
            }
            try await client.execute(uri: "/v1/telemetry", method: .post, headers: auth, body: ByteBuffer(string: "[{\"request_id\": ")) {
                response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("invalid_json"))
            }
            try await client.execute(
                uri: "/v1/telemetry", method: .post, headers: [.authorization: "Bearer \(Self.ingestToken)", .contentType: "text/csv"],
                body: ByteBuffer(string: "a,b")
            ) { #expect($0.status == .unsupportedMediaType) }
        }
        // Exactly what was accepted: fast r1 r2 r5 n1, steady r4, slow n6 (late, in its own minute).
        #expect(try stored(dir) == ["fast": 4, "steady": 1, "slow": 1])
        let late = try storedBuckets(dir).first { $0.endpointID == id("slow") }
        #expect(late?.minute == clock.now().adding(seconds: -600).minute || late?.minute == clock.now().adding(seconds: -660).minute)
        try await ranker.computeAndPublish(.admin)
        #expect(await daemon.ledger.stats(for: id("fast")).long.live.total == 4)
        #expect(try StateStore(path: dir.file("state.db")).count(table: "ingest_keys") == 6)
    }

}
