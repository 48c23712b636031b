import Foundation
import NIOCore
import RankdCore
import Synchronization

/// The epoch being served, kept in memory with its JSON already encoded, so a read never touches
/// the disk and never re-encodes. Swapped whole when a new epoch is published.
public final class EpochHolder: Sendable {
    /// One published epoch and its encoded answers.
    public struct Published: Sendable {
        public let epoch: Epoch
        /// `GET /v1/rankings` body (a ByteBuffer, so answering shares it instead of copying it).
        let allBody: ByteBuffer
        /// `GET /v1/rankings/{model}` bodies by model slug (their entries are slices of `allBody`).
        let modelBodies: [String: EpochJSON.ModelBody]
        /// Strong ETag, changes with every epoch.
        public let etag: String
    }

    private let current = Mutex<Published?>(nil)
    /// Whether the data directory takes writes (`/readyz` reports it beside the epoch).
    public let storage = StorageHealth()

    public init() {}

    /// Encodes and installs an epoch. Throws only if encoding fails (then the old epoch stays).
    public func publish(_ epoch: Epoch) throws {
        let encoded = try EpochJSON.bodies(epoch, capacityHint: published?.allBody.readableBytes ?? 0)
        let next = Published(epoch: epoch, allBody: encoded.all, modelBodies: encoded.models, etag: "\"epoch-\(epoch.id)\"")
        current.withLock { $0 = next }
    }

    public var published: Published? { current.withLock { $0 } }

    public var epoch: Epoch? { published?.epoch }
}
