import Foundation
import NIOCore
import RankdCore
import RankdPlatform

/// The JSON shapes of the HTTP API (DESIGN.md "Shapes"): snake_case keys, RFC 3339 UTC times.
enum EpochJSON {
    struct EpochHeader: Encodable {
        var id: Int64
        var computedAt: String
        var policyHash: String
        var trigger: String

        init(_ epoch: Epoch) {
            id = epoch.id
            computedAt = RFC3339.format(epoch.computedAt)
            policyHash = epoch.policyHash
            trigger = epoch.trigger.rawValue
        }

        enum CodingKeys: String, CodingKey {
            case id, trigger
            case computedAt = "computed_at"
            case policyHash = "policy_hash"
        }
    }

    struct Entry: Encodable {
        var entry: EndpointRanking

        enum CodingKeys: String, CodingKey {
            case rank, provider, score, status, components, samples, reasons, explanation
            case endpointID = "endpoint_id"
            case baseURL = "base_url"
            case upstreamModel = "upstream_model"
            case demotedUntil = "demoted_until"
            case demotedSince = "demoted_since"
            case override
            case trafficShare = "traffic_share"
        }

        enum ExplanationKeys: String, CodingKey {
            case weights, stats, share
            case missingComponents = "missing_components"
            case shortWindow = "short_window"
            case longWindow = "long_window"
        }

        enum StatsKeys: String, CodingKey {
            case requests, benchmark
            case benchmarkFreshness = "benchmark_freshness"
            case toolCallRequests = "tool_call_requests"
            case toolCallFailureRate = "tool_call_failure_rate"
            case errorRate = "error_rate"
            case ttftP50 = "ttft_p50_ms"
            case ttftP90 = "ttft_p90_ms"
            case throughputP50 = "output_tokens_per_second_p50"
        }

        enum ShareKeys: String, CodingKey {
            case share, basis, quality, floor
            case routingScore = "routing_score"
            case qualityMargin = "quality_margin"
            case limitedUntil = "limited_until"
            case limitDetail = "limit_detail"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(entry.rank, forKey: .rank)
            try c.encode(entry.endpointID, forKey: .endpointID)
            try c.encode(entry.provider, forKey: .provider)
            try c.encode(entry.baseURL, forKey: .baseURL)
            try c.encode(entry.upstreamModel, forKey: .upstreamModel)
            try c.encode(entry.score, forKey: .score)
            try c.encode(entry.status.rawValue, forKey: .status)
            try c.encode(entry.components, forKey: .components)
            try c.encode(["probe": entry.samples.probe, "live": entry.samples.live], forKey: .samples)
            try c.encode(entry.reasons, forKey: .reasons)
            try c.encode(entry.demotedUntil.map(RFC3339.format), forKey: .demotedUntil)
            try c.encode(entry.demotedSince.map(RFC3339.format), forKey: .demotedSince)
            try c.encode(entry.override.map(OverrideJSON.Applied.init), forKey: .override)
            try c.encode(entry.trafficShare, forKey: .trafficShare)
            var e = c.nestedContainer(keyedBy: ExplanationKeys.self, forKey: .explanation)
            try e.encode(entry.explanation.weights, forKey: .weights)
            try e.encode(entry.explanation.missingComponents, forKey: .missingComponents)
            try e.encode(entry.explanation.shortWindow, forKey: .shortWindow)
            try e.encode(entry.explanation.longWindow, forKey: .longWindow)
            let stats = entry.explanation.stats
            var s = e.nestedContainer(keyedBy: StatsKeys.self, forKey: .stats)
            try s.encode(stats.requests, forKey: .requests)
            try s.encode(stats.toolCallRequests, forKey: .toolCallRequests)
            try s.encode(stats.toolCallFailureRate, forKey: .toolCallFailureRate)
            try s.encode(stats.errorRate, forKey: .errorRate)
            try s.encode(stats.ttftP50Milliseconds, forKey: .ttftP50)
            try s.encode(stats.ttftP90Milliseconds, forKey: .ttftP90)
            try s.encode(stats.outputTokensPerSecondP50, forKey: .throughputP50)
            try s.encode(stats.benchmark, forKey: .benchmark)
            try s.encode(stats.benchmarkFreshness, forKey: .benchmarkFreshness)
            if let share = entry.explanation.share {
                var h = e.nestedContainer(keyedBy: ShareKeys.self, forKey: .share)
                try h.encode(share.share, forKey: .share)
                try h.encode(share.basis, forKey: .basis)
                try h.encode(share.routingScore, forKey: .routingScore)
                try h.encode(share.quality, forKey: .quality)
                try h.encode(share.qualityMargin, forKey: .qualityMargin)
                try h.encode(share.floor, forKey: .floor)
                try h.encode(share.limitedUntil.map(RFC3339.format), forKey: .limitedUntil)
                try h.encode(share.limitDetail, forKey: .limitDetail)
            } else {
                try e.encodeNil(forKey: .share)
            }
        }
    }

    struct AllRankings: Encodable {
        var epoch: EpochHeader
        var models: [String: [Entry]]
        var modelReasons: [String: [String]]

        enum CodingKeys: String, CodingKey {
            case epoch, models
            case modelReasons = "model_reasons"
        }
    }

    struct ModelRankings: Encodable {
        var epoch: EpochHeader
        var model: String
        var endpoints: [Entry]
        var reasons: [String]
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// One model's `GET /v1/rankings/{model}` body: the shared opening, its entries (a deflate
    /// fragment inside the whole table's stream, so the bytes are held once, compressed) and its
    /// own closing (epoch header, slug, reasons).
    struct ModelBody: Sendable {
        static let opening = ByteBuffer(string: "{\"endpoints\":")
        /// The gzip header and the opening as a stored block: how every model's gzip body begins.
        static let gzipOpening: ByteBuffer = {
            var buffer = DeflatedBody.gzipHeader
            DeflatedBody.writeStored(opening.readableBytesView, to: &buffer)
            return buffer
        }()
        /// Raw deflate fragment of the entries (a slice of `Bodies.allStream`).
        let entries: ByteBuffer
        /// Uncompressed length of the entries.
        let entriesLength: Int
        let closing: ByteBuffer
        /// The closing as a stored block, the final block and the gzip trailer.
        let gzipClosing: ByteBuffer

        var byteCount: Int { Self.opening.readableBytes + entriesLength + closing.readableBytes }

        /// The body's parts as sent with `Content-Encoding: gzip`.
        var gzipParts: [ByteBuffer] { [Self.gzipOpening, entries, gzipClosing] }
        var gzipByteCount: Int { Self.gzipOpening.readableBytes + entries.readableBytes + gzipClosing.readableBytes }

        /// The body's parts, uncompressed (the entries inflated: tens of kilobytes).
        func parts() throws -> [ByteBuffer] {
            [Self.opening, try FragmentInflater.inflated(entries, expectedLength: entriesLength), closing]
        }

        /// The whole uncompressed body in one buffer (tests).
        func joined() throws -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(byteCount)
            for var part in try parts() { buffer.writeBuffer(&part) }
            return buffer
        }
    }

    /// An epoch's two kinds of ranking bodies, deflated (`DeflatedBody`).
    struct Bodies: Sendable {
        /// The `GET /v1/rankings` body as a raw deflate stream without its final block.
        let allStream: ByteBuffer
        /// Uncompressed length of the `GET /v1/rankings` body.
        let allLength: Int
        /// The final block and the gzip trailer of the `GET /v1/rankings` body.
        let allGzipEnd: ByteBuffer
        let models: [String: ModelBody]

        var allGzipParts: [ByteBuffer] { [DeflatedBody.gzipHeader, allStream, allGzipEnd] }
        var allGzipByteCount: Int { DeflatedBody.gzipHeader.readableBytes + allStream.readableBytes + allGzipEnd.readableBytes }

        /// The whole uncompressed `GET /v1/rankings` body in one buffer (tests, small tables).
        func allJoined() throws -> ByteBuffer { try FragmentInflater.inflated(allStream, expectedLength: allLength) }
    }

    /// Both API bodies of an epoch, each model's entries encoded and deflated once: the
    /// `GET /v1/rankings` body is one deflate stream, and each model's body is its entries
    /// fragment from that stream between a shared opening and its own closing (the same JSON
    /// `all` and `model` give, keys in the same sorted order). `capacityHint` is the previous
    /// epoch's compressed size, so the stream's buffer is allocated once, not grown by doubling.
    static func bodies(_ epoch: Epoch, capacityHint: Int = 0) throws -> Bodies {
        let header = try encoder.encode(EpochHeader(epoch))
        var modelReasons: [String: [String]] = [:]
        for ranking in epoch.models where !ranking.reasons.isEmpty { modelReasons[ranking.model] = ranking.reasons }
        let deflater = try FragmentDeflater()
        var stream = ByteBuffer()
        stream.reserveCapacity(max(capacityHint + capacityHint / 8, 4_096))
        var whole = DeflatedBody.Checksum()
        func stored(_ bytes: some Collection<UInt8>) {
            DeflatedBody.writeStored(bytes, to: &stream)
            whole.update(bytes)
        }
        stored(Array("{\"epoch\":".utf8) + header + Array(",\"model_reasons\":".utf8) + (try encoder.encode(modelReasons)) + Array(",\"models\":{".utf8))
        var pending: [(model: String, start: Int, length: Int, entriesLength: Int, closing: ByteBuffer, gzipClosing: ByteBuffer)] = []
        pending.reserveCapacity(epoch.models.count)
        for (index, ranking) in epoch.models.enumerated() {
            let slug = try encoder.encode(ranking.model)
            stored((index > 0 ? [UInt8(ascii: ",")] : []) + Array(slug) + [UInt8(ascii: ":")])
            let entries = try encoder.encode(ranking.endpoints.map(Entry.init))
            let start = stream.writerIndex
            let entriesCRC = try entries.withUnsafeBytes { try deflater.fragment($0, into: &stream) }
            whole.append(crc: entriesCRC, length: entries.count)
            var closing = ByteBuffer()
            closing.reserveCapacity(header.count + slug.count + 64)
            closing.writeString(",\"epoch\":")
            closing.writeBytes(header)
            closing.writeString(",\"model\":")
            closing.writeBytes(slug)
            closing.writeString(",\"reasons\":")
            closing.writeBytes(try encoder.encode(ranking.reasons))
            closing.writeInteger(UInt8(ascii: "}"))
            var own = DeflatedBody.Checksum()
            own.update(ModelBody.opening.readableBytesView)
            own.append(crc: entriesCRC, length: entries.count)
            own.update(closing.readableBytesView)
            var gzipClosing = ByteBuffer()
            gzipClosing.reserveCapacity(closing.readableBytes + 32)
            DeflatedBody.writeStored(closing.readableBytesView, to: &gzipClosing)
            DeflatedBody.writeEnd(crc: own.crc, length: own.length, to: &gzipClosing)
            pending.append((ranking.model, start, stream.writerIndex - start, entries.count, closing, gzipClosing))
        }
        stored(Array("}}".utf8))
        // Sliced once the stream is whole: a slice shares its storage, and a write to the stream
        // while a slice held it would copy the whole stream.
        var models: [String: ModelBody] = [:]
        models.reserveCapacity(pending.count)
        for body in pending {
            models[body.model] = ModelBody(
                entries: stream.getSlice(at: body.start, length: body.length)!, entriesLength: body.entriesLength, closing: body.closing,
                gzipClosing: body.gzipClosing)
        }
        var end = ByteBuffer()
        DeflatedBody.writeEnd(crc: whole.crc, length: whole.length, to: &end)
        return Bodies(allStream: stream, allLength: whole.length, allGzipEnd: end, models: models)
    }

    static func all(_ epoch: Epoch) throws -> Data {
        try encoder.encode(
            AllRankings(
                epoch: EpochHeader(epoch),
                models: Dictionary(uniqueKeysWithValues: epoch.models.map { ($0.model, $0.endpoints.map(Entry.init)) }),
                modelReasons: Dictionary(uniqueKeysWithValues: epoch.models.filter { !$0.reasons.isEmpty }.map { ($0.model, $0.reasons) })))
    }

    static func model(_ ranking: ModelRanking, epoch: Epoch) throws -> Data {
        try encoder.encode(
            ModelRankings(
                epoch: EpochHeader(epoch), model: ranking.model, endpoints: ranking.endpoints.map(Entry.init), reasons: ranking.reasons))
    }
}
