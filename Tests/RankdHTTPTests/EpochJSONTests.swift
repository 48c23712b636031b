import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import RankdCore
import RankdDaemonTestKit
import RankdPlatform
import RankdTestKit
import Testing

@testable import RankdDaemon
@testable import RankdServer

@Suite struct EpochJSONTests {
    /// Three models, one with a non-ASCII slug; failing endpoints give reasons and demotions, and
    /// one model has a model-level reason.
    static func epoch() -> Epoch {
        let now = Timestamp(secondsSince1970: 1_767_225_600)
        let endpoints =
            ["a", "b", "c"].map { Build.endpoint($0) } + ["a", "b"].map { Build.endpoint($0, model: "acme/solo-1") }
            + ["x", "y"].map { Build.endpoint($0, model: "zeta/broken-\u{e9}") }
        var engine = MemoryRanking(policy: .default, endpoints: endpoints, now: now)
        for endpoint in endpoints {
            let broken = endpoint.model.hasPrefix("zeta") || endpoint.provider == "c"
            for o in Build.observations(endpoint.id, count: 200, end: now, spanSeconds: 300, failEvery: broken ? 2 : 0) {
                _ = engine.record(o)
            }
        }
        var epoch = engine.computeEpoch(now: now.adding(seconds: 60), trigger: .scheduled)
        epoch.models[2].reasons = [ReasonCode.allEndpointsDegraded]
        return epoch
    }

    /// The spliced, deflated bodies (each model's entries encoded and deflated once) inflate to
    /// byte for byte what encoding the whole answer gives, for `GET /v1/rankings` and every model.
    @Test func splicedBodiesEqualWholeEncodings() throws {
        let epoch = Self.epoch()
        #expect(epoch.models.count == 3)
        let bodies = try EpochJSON.bodies(epoch)
        let all = try EpochJSON.all(epoch)
        #expect(Array(try bodies.allJoined().readableBytesView) == Array(all))
        #expect(bodies.allLength == all.count)
        for ranking in epoch.models {
            let body = try #require(bodies.models[ranking.model])
            let joined = try body.joined()
            #expect(Array(joined.readableBytesView) == Array(try EpochJSON.model(ranking, epoch: epoch)), "\(ranking.model)")
            #expect(body.byteCount == joined.readableBytes)
        }
        #expect(bodies.models.count == 3)
        // Held deflated: smaller than the JSON even for this small table.
        #expect(bodies.allStream.readableBytes < all.count / 3, "\(bodies.allStream.readableBytes) of \(all.count)")
    }

    /// The gzip answers, as zlib's own gzip reader reads them (it checks the CRC-32 and the length
    /// in the trailer), are the same JSON.
    @Test func gzipBodiesAreValidGzipOfTheSameJSON() throws {
        let epoch = Self.epoch()
        let bodies = try EpochJSON.bodies(epoch)
        let all = try gunzip(bodies.allGzipParts)
        #expect(all == Array(try EpochJSON.all(epoch)))
        #expect(bodies.allGzipByteCount == bodies.allGzipParts.reduce(0) { $0 + $1.readableBytes })
        for ranking in epoch.models {
            let body = try #require(bodies.models[ranking.model])
            #expect(try gunzip(body.gzipParts) == Array(try EpochJSON.model(ranking, epoch: epoch)), "\(ranking.model)")
            #expect(body.gzipByteCount == body.gzipParts.reduce(0) { $0 + $1.readableBytes })
        }
    }

    /// A piece longer than one stored block (65,535 bytes) is split into several, and the stream
    /// still inflates (raw and as gzip) to the same bytes; fragments and stored pieces mix freely.
    @Test func longStoredPiecesAndFragmentsConcatenate() throws {
        var generator = SplitMix64(seed: 7)
        let long = (0..<150_000).map { _ in UInt8(ascii: "a") + UInt8(generator.next() % 26) }
        let text = Array(String(repeating: "{\"rank\":1,\"score\":0.5}", count: 4_000).utf8)
        var stream = ByteBuffer()
        var checksum = DeflatedBody.Checksum()
        DeflatedBody.writeStored(long, to: &stream)
        checksum.update(long)
        let deflater = try FragmentDeflater()
        let crc = try text.withUnsafeBytes { try deflater.fragment($0, into: &stream) }
        checksum.append(crc: crc, length: text.count)
        DeflatedBody.writeStored([UInt8](), to: &stream)
        let again = try text.withUnsafeBytes { try deflater.fragment($0, into: &stream) }
        #expect(again == crc)
        checksum.append(crc: crc, length: text.count)
        let expected = long + text + text
        #expect(checksum.length == expected.count)
        #expect(Array(try FragmentInflater.inflated(stream, expectedLength: expected.count).readableBytesView) == expected)
        // A piece at a time, as the router streams the whole table.
        let inflater = try FragmentInflater(stream, expectedLength: expected.count)
        var pieces: [UInt8] = []
        var count = 0
        while let piece = try inflater.next(limit: 10_000) {
            #expect(piece.readableBytes <= 10_000)
            pieces += piece.readableBytesView
            count += 1
        }
        #expect(pieces == expected)
        #expect(count == (expected.count + 9_999) / 10_000)
        var end = ByteBuffer()
        DeflatedBody.writeEnd(crc: checksum.crc, length: checksum.length, to: &end)
        #expect(try gunzip([DeflatedBody.gzipHeader, stream, end]) == expected)
    }

    /// A damaged or cut stream is an error (the answer is a 500 or a closed connection), never
    /// a crash or an endless loop; neither is a stream that gives fewer bytes than expected.
    @Test func damagedStreamsThrow() throws {
        let text = Array(String(repeating: "{\"provider\":\"p1\",\"score\":0.25}", count: 500).utf8)
        var stream = ByteBuffer()
        _ = try text.withUnsafeBytes { try FragmentDeflater().fragment($0, into: &stream) }
        let cut = stream.getSlice(at: 0, length: stream.readableBytes / 2)!
        #expect(throws: CompressionError.self) { try FragmentInflater.inflated(cut, expectedLength: text.count) }
        #expect(throws: CompressionError.self) { try FragmentInflater.inflated(stream, expectedLength: text.count + 1) }
        var flipped = stream
        flipped.setInteger(UInt8(0xff), at: 0)
        flipped.setInteger(UInt8(0xff), at: 1)
        #expect(throws: CompressionError.self) { try FragmentInflater.inflated(flipped, expectedLength: text.count) }
    }

    @Test func acceptEncodingAdmitsGzip() {
        let cases: [(String?, Bool)] = [
            (nil, false), ("", false), ("identity", false), ("gzip", true), ("GZIP", true), ("deflate, gzip;q=0.5", true),
            ("gzip;q=0", false), ("gzip; q=0.0, deflate", false), ("x-gzip", true), ("*", true), ("*;q=0", false),
            ("gzip;q=0, *", false), ("br, *;q=0.1", true), ("br", false), ("gzip, deflate, br, zstd", true),
        ]
        for (header, expected) in cases {
            #expect(DeflatedBody.acceptsGzip(header) == expected, "\(header ?? "nil")")
        }
    }

    /// Through the router (no fast path): the whole table is streamed inflated to a client that
    /// does not take gzip and sent as held to one that does; both are the same JSON, with one
    /// ETag per representation, and either tag gives a 304 for the epoch.
    @Test func routerAnswersBothEncodings() async throws {
        let epoch = Self.epoch()
        let holder = EpochHolder()
        try holder.publish(epoch)
        let router = buildRouter(
            ServerDependencies(
                holder: holder, metrics: RankdMetrics(), adminToken: nil,
                history: HistorySource(epochs: { _, _, _ in [] }, epoch: { _ in nil }),
                overrides: OverrideSource(apply: { _ in nil }, revoke: { _, _ in nil }, list: { _ in [] }),
                ingest: IngestSink(token: nil, resolve: { _ in TelemetryResolver.Resolution() }, submit: { _ in IngestCommitted() }),
                clock: ManualClock(), recompute: { throw CancellationError() }))
        let app = Application(router: router)
        let tag = try #require(holder.published).etag.dropFirst().dropLast()
        #expect(tag.hasPrefix("epoch-\(epoch.id)-") && tag.count == "epoch-\(epoch.id)-".count + 16)
        let all = Array(try EpochJSON.all(epoch))
        let model = Array(try EpochJSON.model(epoch.models[2], epoch: epoch))
        let slug = epoch.models[2].model.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/rankings", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentEncoding] == nil)
                #expect(response.headers[.vary] == "Accept-Encoding")
                #expect(response.headers[.eTag] == "\"\(tag)\"")
                #expect(Array(response.body.readableBytesView) == all)
            }
            try await client.execute(uri: "/v1/rankings", method: .get, headers: [.acceptEncoding: "gzip, deflate"]) { response in
                #expect(response.headers[.contentEncoding] == "gzip")
                #expect(response.headers[.eTag] == "\"\(tag)-gzip\"")
                let body = try gunzip([response.body])
                #expect(body == all)
            }
            try await client.execute(uri: "/v1/rankings/\(slug)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Array(response.body.readableBytesView) == model)
            }
            try await client.execute(uri: "/v1/rankings/\(slug)", method: .get, headers: [.acceptEncoding: "gzip"]) { response in
                #expect(response.headers[.contentEncoding] == "gzip")
                let body = try gunzip([response.body])
                #expect(body == model)
            }
            for sent in ["\"\(tag)\"", "\"\(tag)-gzip\""] {
                try await client.execute(uri: "/v1/rankings", method: .get, headers: [.ifNoneMatch: sent]) { response in
                    #expect(response.status == .notModified, "\(sent)")
                }
            }
            try await client.execute(uri: "/v1/rankings", method: .get, headers: [.ifNoneMatch: "\"epoch-\(epoch.id + 1)\""]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    /// On a real socket, where the channel-pipeline fast path answers: gzip and plain answers of
    /// the same epoch carry the same JSON, with Content-Length, Content-Encoding and Vary set.
    @Test func fastPathAnswersBothEncodings() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (app, ranker) = try RankdApplication.build(testConfiguration(dir), clock: ManualClock(), logger: quietLogger)
        try await app.test(.live) { client in
            for _ in 0..<500 where ranker.holder.epoch == nil { try await Task.sleep(for: .milliseconds(10)) }
            let tag = try #require(ranker.holder.published).etag.dropFirst().dropLast()
            for path in ["/v1/rankings", "/v1/rankings/acme/solo-1"] {
                let plain = try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentEncoding] == nil)
                    #expect(response.headers[.contentLength] == String(response.body.readableBytes))
                    return Array(response.body.readableBytesView)
                }
                try await client.execute(uri: path, method: .get, headers: [.acceptEncoding: "gzip"]) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentEncoding] == "gzip")
                    #expect(response.headers[.vary] == "Accept-Encoding")
                    #expect(response.headers[.eTag] == "\"\(tag)-gzip\"")
                    #expect(response.headers[.contentLength] == String(response.body.readableBytes))
                    let body = try gunzip([response.body])
                    #expect(body == plain, "\(path)")
                }
                try await client.execute(uri: path, method: .get, headers: [.acceptEncoding: "gzip", .ifNoneMatch: "\"\(tag)\""]) {
                    response in
                    #expect(response.status == .notModified)
                    #expect(response.headers[.eTag] == "\"\(tag)-gzip\"")
                }
            }
        }
    }
}

/// A gzip member read by zlib itself (its gzip reader: framing, CRC-32 and length checked, no
/// bytes after the member), not by the code that frames rankd's answers.
func gunzip(_ parts: [ByteBuffer]) throws -> [UInt8] {
    var input: [UInt8] = []
    for part in parts { input += part.readableBytesView }
    return try Zlib.inflate(Data(input), format: .gzip, limit: 1 << 30)
}

extension EpochJSONTests {
    /// The route answer written from cached entry JSON says exactly what encoding it whole says.
    @Test func routeAnswersFromCachedEntriesEqualTheEncodedAnswer() throws {
        let epoch = Self.epoch()
        let ranking = try #require(epoch.models.first)
        let answer = RouteAnswer(
            epochID: epoch.id, mode: .quality,
            endpoints: ranking.endpoints.enumerated().reversed().map { RoutedEndpoint(entry: $1, belowPreference: $0 == 1) },
            excluded: [Exclusion(endpointID: "x:\"quoted\"", provider: "x", reason: "ignore")],
            positions: ranking.endpoints.indices.reversed())
        let encoder = RouteAnswerEncoder()
        for _ in 0..<2 {  // the second from the cache
            let fast = try encoder.encode(answer, ranking: ranking, seed: 42, seedSource: .requestID)
            let whole = try EpochJSON.encoder.encode(RouteJSON.Answer(answer, seed: 42, seedSource: .requestID))
            let a = try JSONSerialization.jsonObject(with: Data(fast.readableBytesView)) as! NSDictionary
            let b = try JSONSerialization.jsonObject(with: whole) as! NSDictionary
            #expect(a == b)
        }
    }
}
