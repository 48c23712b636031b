import Foundation
import GRDB
import RankdCore
import RankdPlatform

/// An epoch and the demotion memory it left, as bytes another replica reads back: the body as
/// `state.db` keeps it (deflated JSON), the memory as JSON.
public enum EpochTransfer {
    public static func body(_ epoch: Epoch) throws -> [UInt8] {
        Array(try DatabaseFiles.epochBody(epoch))
    }

    public static func epoch(body: [UInt8], source: String) throws -> Epoch {
        try DatabaseFiles.decodeEpoch(Data(body).databaseValue, file: source)
    }

    public static func demotions(_ memory: [String: DemotionState]) throws -> [UInt8] {
        Array(try DatabaseFiles.json(memory.filter { $0.value != DemotionState() }).utf8)
    }

    public static func demotions(json: [UInt8], source: String) throws -> [String: DemotionState] {
        try DatabaseFiles.decode([String: DemotionState].self, String(decoding: json, as: UTF8.self), file: source)
    }

    /// What only the leader changes, carried with each epoch so the next leader has it: every
    /// override (the audit trail, up to the listing's limit) and the admin API's benchmark scores
    /// with the upload that set them.
    public struct AdminState: Codable, Sendable, Equatable {
        public struct Upload: Codable, Sendable, Equatable {
            var id: Int64
            var at: Double
            var author: String?
            var note: String?
            var scores: Int
            var replaced: Int
            var body: String
        }

        public var overrides: [Override]
        public var benchmarkScores: [BenchmarkScore]
        var benchmarkUpload: Upload?

        public init(overrides: [Override], benchmarkScores: [BenchmarkScore], benchmarkUpload: BenchmarkUpload?) {
            self.overrides = overrides
            self.benchmarkScores = benchmarkScores
            self.benchmarkUpload = benchmarkUpload.map {
                Upload(id: $0.id, at: $0.at.secondsSince1970, author: $0.author, note: $0.note, scores: $0.scores, replaced: $0.replaced, body: $0.body)
            }
        }

        public var upload: BenchmarkUpload? {
            benchmarkUpload.map {
                BenchmarkUpload(
                    id: $0.id, at: Timestamp(secondsSince1970: $0.at), author: $0.author, note: $0.note, scores: $0.scores, replaced: $0.replaced,
                    body: $0.body)
            }
        }
    }

    public static func admin(_ state: AdminState) throws -> [UInt8] {
        Array(try DatabaseFiles.json(state).utf8)
    }

    public static func admin(json: [UInt8], source: String) throws -> AdminState? {
        // Written by every leader of this schema; "{}" only by tests of the cluster database alone.
        guard json != Array("{}".utf8) else { return nil }
        return try DatabaseFiles.decode(AdminState.self, String(decoding: json, as: UTF8.self), file: source)
    }
}
