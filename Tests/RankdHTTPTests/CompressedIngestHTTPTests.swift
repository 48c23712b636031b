import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RankdConfig
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdOTLP
import RankdPlatform
import RankdTestKit
import Testing

/// `Content-Encoding: gzip` and `deflate` on `/v1/telemetry` and `/v1/traces` (what the
/// OpenTelemetry Collector's `otlphttp` exporter and most SDKs send by default), on a real socket:
/// compressed batches are counted like plain ones, the body limit holds for the inflated size,
/// and a damaged or unknown encoding is refused with nothing stored.
@Suite struct CompressedIngestHTTPTests {
    static let token = TelemetryFixtures.ingestToken

    /// One gzip member (RFC 1952) around a raw deflate stream.
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])
        let crc = try bytes.withUnsafeBytes { try FragmentDeflater(level: 6).fragment($0, into: &buffer) }
        buffer.writeBytes([0x01, 0x00, 0x00, 0xff, 0xff])
        buffer.writeInteger(crc, endianness: .little)
        buffer.writeInteger(UInt32(truncatingIfNeeded: bytes.count), endianness: .little)
        return Array(buffer.readableBytesView)
    }

    /// RFC 1951 with no framing: what some clients send as `deflate`.
    static func rawDeflate(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer()
        _ = try bytes.withUnsafeBytes { try FragmentDeflater(level: 6).fragment($0, into: &buffer) }
        buffer.writeBytes([0x01, 0x00, 0x00, 0xff, 0xff])
        return Array(buffer.readableBytesView)
    }

    /// RFC 1950, what RFC 9110 calls `deflate`.
    static func zlib(_ bytes: [UInt8]) throws -> [UInt8] {
        let deflater = try Deflater(level: 6)
        try deflater.append(bytes)
        return try deflater.finish()
    }

    func headers(_ contentType: String, encoding: String?) -> HTTPFields {
        var fields: HTTPFields = [.authorization: "Bearer \(Self.token)", .contentType: contentType]
        if let encoding { fields[.contentEncoding] = encoding }
        return fields
    }

    @Test func gzipAndDeflateBodiesAreCountedLikePlainOnes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = SystemClock()
        let (app, _) = try RankdApplication.assemble(
            TelemetryFixtures.configuration(dir, maxBodyBytes: 64 * 1024), clock: clock, logger: quietLogger, epochLoop: false)
        try await app.test(.live) { client in
            let now = clock.now()
            func batch(_ prefix: String, _ count: Int) -> [UInt8] {
                Array((0..<count).map { TelemetryFixtures.record("\(prefix)\($0)", at: now) }.joined(separator: "\n").utf8)
            }
            let encodings: [(name: String, encode: ([UInt8]) throws -> [UInt8])] = [
                ("gzip", Self.gzip), ("x-gzip", Self.gzip), ("deflate", Self.zlib), ("deflate", Self.rawDeflate),
                ("identity", { $0 }), ("GZIP", Self.gzip),
            ]
            for (index, encoding) in encodings.enumerated() {
                let body = try encoding.encode(batch("e\(index)-", 50))
                try await client.execute(
                    uri: "/v1/telemetry", method: .post, headers: headers("application/x-ndjson", encoding: encoding.name),
                    body: ByteBuffer(bytes: body)
                ) { response in
                    #expect(response.status == .ok, "\(encoding.name): \(String(buffer: response.body))")
                    let answer = try json(response.body)
                    #expect(answer["accepted"] as? Int == 50, "\(encoding.name)")
                }
            }
            // Damaged: a gzip body cut short, and one whose checksum fails. Nothing of either is taken.
            var damaged = try Self.gzip(batch("bad-", 50))
            let cut = Array(damaged.prefix(damaged.count - 12))
            damaged[damaged.count - 6] ^= 0xff
            for body in [cut, damaged] {
                try await client.execute(
                    uri: "/v1/telemetry", method: .post, headers: headers("application/x-ndjson", encoding: "gzip"), body: ByteBuffer(bytes: body)
                ) { response in
                    #expect(response.status == .badRequest)
                    let error = try json(response.body)["error"] as? [String: Any]
                    #expect(error?["code"] as? String == "invalid_encoding")
                    #expect((error?["message"] as? String)?.contains("Content-Encoding") == true)
                }
            }
            // An encoding rankd does not read: 415, naming the ones it does (RFC 7694).
            for encoding in ["br", "gzip, gzip", "zstd"] {
                try await client.execute(
                    uri: "/v1/telemetry", method: .post, headers: headers("application/x-ndjson", encoding: encoding),
                    body: ByteBuffer(bytes: batch("br-", 1))
                ) { response in
                    #expect(response.status == .unsupportedMediaType, "\(encoding)")
                    #expect(response.headers[.acceptEncoding] == "gzip, deflate")
                    let message = (try json(response.body)["error"] as? [String: Any])?["message"] as? String
                    #expect(message?.contains(encoding) == true)
                }
            }
            // A zip bomb: 16 MiB of one byte is about 16 KB gzipped, under the 64 KiB body limit; it
            // inflates past the limit and gets 413, not 16 MiB of memory.
            let bomb = try Self.gzip([UInt8](repeating: 0x20, count: 16 << 20))
            #expect(bomb.count < 64 * 1024)
            for uri in ["/v1/telemetry", "/v1/traces"] {
                try await client.execute(
                    uri: uri, method: .post, headers: headers("application/json", encoding: "gzip"), body: ByteBuffer(bytes: bomb)
                ) { response in
                    #expect(response.status == .contentTooLarge, "\(uri)")
                    let message = (try json(response.body)["error"] as? [String: Any])?["message"] as? String
                    #expect(message?.contains("inflates to more than 65536 bytes") == true, "\(message ?? "")")
                }
            }
            // OTLP traces, protobuf and JSON, gzipped as the Collector's otlphttp exporter sends them.
            let nanos = UInt64(now.secondsSince1970 * 1e9)
            func span(_ id: String, provider: String) -> (span: OTLPSpan, resource: [String: OTLPValue]) {
                (
                    OTLPSpan(
                        traceID: "0af7651916cd43dd8448eb211c80319c", spanID: id, name: "chat", startNanos: nanos - 800_000_000,
                        endNanos: nanos,
                        attributes: [
                            "gen_ai.operation.name": .string("chat"), "gen_ai.request.model": .string(Build.model),
                            "gen_ai.provider.name": .string(provider), "gen_ai.usage.output_tokens": .int(80),
                        ], statusCode: 1),
                    ["service.name": .string("gateway")]
                )
            }
            let export = try OTLPProtobuf.request([span("00f067aa0ba90301", provider: "fast"), span("00f067aa0ba90302", provider: "steady")])
            try await client.execute(
                uri: "/v1/traces", method: .post, headers: headers("application/x-protobuf", encoding: "gzip"),
                body: ByteBuffer(bytes: try Self.gzip(Array(export)))
            ) { response in
                #expect(response.status == .ok)
                let (rejected, _) = try OTLPProtobuf.partialSuccess(Data(response.body.readableBytesView))
                #expect(rejected == 0)
            }
            let otlpJSON = """
                {"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"spans":[
                  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b190","name":"chat",
                   "startTimeUnixNano":"\(nanos - 900_000_000)","endTimeUnixNano":"\(nanos)",
                   "attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"\(Build.model)"}},
                                 {"key":"gen_ai.provider.name","value":{"stringValue":"slow"}}]}]}]}]}
                """
            try await client.execute(
                uri: "/v1/traces", method: .post, headers: headers("application/json", encoding: "deflate"),
                body: ByteBuffer(bytes: try Self.zlib(Array(otlpJSON.utf8)))
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "{}")
            }
        }
        // Six accepted batches of 50 and three spans; nothing of the refused ones.
        let stored = try TelemetryFixtures.storedLive(dir)
        #expect(stored == ["fast": 301, "steady": 1, "slow": 1])
    }
}
