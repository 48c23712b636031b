import Foundation
import NIOCore
import RankdCore

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
        }

        enum ExplanationKeys: String, CodingKey {
            case weights, stats
            case missingComponents = "missing_components"
            case shortWindow = "short_window"
            case longWindow = "long_window"
        }

        enum StatsKeys: String, CodingKey {
            case requests, benchmark
            case toolCallRequests = "tool_call_requests"
            case toolCallFailureRate = "tool_call_failure_rate"
            case errorRate = "error_rate"
            case ttftP50 = "ttft_p50_ms"
            case ttftP90 = "ttft_p90_ms"
            case throughputP50 = "output_tokens_per_second_p50"
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

    /// One model's `GET /v1/rankings/{model}` body, in three parts: the shared opening, its
    /// entries (a slice of the `GET /v1/rankings` body, so the bytes are held once) and its own
    /// closing (epoch header, slug, reasons).
    struct ModelBody: Sendable {
        static let opening = ByteBuffer(string: "{\"endpoints\":")
        let entries: ByteBuffer
        let closing: ByteBuffer

        var parts: [ByteBuffer] { [Self.opening, entries, closing] }
        var byteCount: Int { Self.opening.readableBytes + entries.readableBytes + closing.readableBytes }
        /// The whole body in one buffer (tests, small answers).
        var joined: ByteBuffer {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(byteCount)
            for var part in parts { buffer.writeBuffer(&part) }
            return buffer
        }
    }

    /// Both API bodies of an epoch, each model's entries encoded once and held once: the
    /// `GET /v1/rankings` body is one buffer, and each model's body is its entries sliced from
    /// it between a shared opening and its own closing (the same JSON `all` and `model` give,
    /// keys in the same sorted order). `capacityHint` is the previous epoch's size, so the
    /// buffer is allocated once instead of grown by doubling (at 20,000 endpoints, 16 MB).
    static func bodies(_ epoch: Epoch, capacityHint: Int = 0) throws -> (all: ByteBuffer, models: [String: ModelBody]) {
        let header = try encoder.encode(EpochHeader(epoch))
        var modelReasons: [String: [String]] = [:]
        for ranking in epoch.models where !ranking.reasons.isEmpty { modelReasons[ranking.model] = ranking.reasons }
        var all = ByteBuffer()
        all.reserveCapacity(max(capacityHint + capacityHint / 8, 4_096))
        all.writeString("{\"epoch\":")
        all.writeBytes(header)
        all.writeString(",\"model_reasons\":")
        all.writeBytes(try encoder.encode(modelReasons))
        all.writeString(",\"models\":{")
        var ranges: [(model: String, start: Int, length: Int, closing: ByteBuffer)] = []
        ranges.reserveCapacity(epoch.models.count)
        for (index, ranking) in epoch.models.enumerated() {
            let slug = try encoder.encode(ranking.model)
            if index > 0 { all.writeInteger(UInt8(ascii: ",")) }
            all.writeBytes(slug)
            all.writeInteger(UInt8(ascii: ":"))
            let start = all.writerIndex
            all.writeBytes(try encoder.encode(ranking.endpoints.map(Entry.init)))
            var closing = ByteBuffer()
            closing.reserveCapacity(header.count + slug.count + 64)
            closing.writeString(",\"epoch\":")
            closing.writeBytes(header)
            closing.writeString(",\"model\":")
            closing.writeBytes(slug)
            closing.writeString(",\"reasons\":")
            closing.writeBytes(try encoder.encode(ranking.reasons))
            closing.writeInteger(UInt8(ascii: "}"))
            ranges.append((ranking.model, start, all.writerIndex - start, closing))
        }
        all.writeString("}}")
        var models: [String: ModelBody] = [:]
        models.reserveCapacity(ranges.count)
        for range in ranges {
            // A slice shares the buffer's storage: no copy.
            models[range.model] = ModelBody(entries: all.getSlice(at: range.start, length: range.length)!, closing: range.closing)
        }
        return (all, models)
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
