import Foundation
import NIOCore
import RankdCore
import Synchronization

/// Writes `POST /v1/route` answers from entry JSON encoded once per epoch and model: a route
/// answer is a per-request order of entries the epoch already has, so only the order, the seed
/// and the exclusions are new per request. Encoding every entry with `JSONEncoder` per request
/// made the route answer many times slower than the cached rankings read (docs/BENCHMARKS.md).
final class RouteAnswerEncoder: Sendable {
    /// Models whose entries are kept per epoch; past it the cache starts again (a gateway routes
    /// a few models often, and every model's entries of a large registry would be tens of MB).
    static let maxModels = 256

    private struct Cache {
        var epochID: Int64 = -1
        /// Model → each entry's JSON object without its closing brace, in ranking order.
        var byModel: [String: [[UInt8]]] = [:]
    }

    private let cache = Mutex(Cache())

    /// The answer's JSON: the same keys and values as encoding `RouteJSON.Answer`, keys sorted
    /// except `below_preference`, which ends each entry.
    func encode(_ answer: RouteAnswer, ranking: ModelRanking, seed: UInt64, seedSource: RouteRequest.SeedSource) throws -> ByteBuffer {
        let entries = try entryPrefixes(ranking, epochID: answer.epochID)
        var buffer = ByteBuffer()
        let positions = answer.positions.count == answer.endpoints.count ? answer.positions : []
        buffer.reserveCapacity(positions.reduce(256) { $0 + (entries.indices.contains($1) ? entries[$1].count : 1_024) + 32 })
        buffer.writeString("{\"endpoints\":[")
        for (index, routed) in answer.endpoints.enumerated() {
            if index > 0 { buffer.writeString(",") }
            let position = index < positions.count ? positions[index] : -1
            guard entries.indices.contains(position), ranking.endpoints[position].endpointID == routed.entry.endpointID else {
                // Not planned from this ranking (cannot happen in the controller): encode it whole.
                let entry = RouteJSON.Routed(entry: EpochJSON.Entry(entry: routed.entry), belowPreference: routed.belowPreference)
                buffer.writeBytes(try EpochJSON.encoder.encode(entry))
                continue
            }
            buffer.writeBytes(entries[position])
            buffer.writeString(routed.belowPreference ? ",\"below_preference\":true}" : ",\"below_preference\":false}")
        }
        buffer.writeString("],\"epoch_id\":\(answer.epochID),\"excluded\":")
        if answer.excluded.isEmpty {
            buffer.writeString("[]")
        } else {
            buffer.writeBytes(try EpochJSON.encoder.encode(answer.excluded.map(RouteJSON.Excluded.init)))
        }
        buffer.writeString(",\"mode\":\"\(answer.mode.rawValue)\",\"notes\":")
        // Almost every answer has none: no encoder for those.
        if answer.notes.isEmpty { buffer.writeString("[]") } else { buffer.writeBytes(try EpochJSON.encoder.encode(answer.notes)) }
        buffer.writeString(",\"seed\":\(seed),\"seed_source\":\"\(seedSource.rawValue)\"}")
        return buffer
    }

    /// Each entry's JSON without its closing brace, encoded once per epoch and model.
    private func entryPrefixes(_ ranking: ModelRanking, epochID: Int64) throws -> [[UInt8]] {
        if let hit = cache.withLock({ $0.epochID == epochID ? $0.byModel[ranking.model] : nil }) { return hit }
        let prefixes = try ranking.endpoints.map { entry in
            var bytes = Array(try EpochJSON.encoder.encode(EpochJSON.Entry(entry: entry)))
            bytes.removeLast()  // the closing brace: below_preference goes after the last key
            return bytes
        }
        cache.withLock { cache in
            if cache.epochID != epochID || cache.byModel.count >= Self.maxModels { cache = Cache(epochID: epochID) }
            cache.byModel[ranking.model] = prefixes
        }
        return prefixes
    }
}
