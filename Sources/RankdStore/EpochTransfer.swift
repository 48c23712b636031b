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
}
