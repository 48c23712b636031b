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
        /// `GET /v1/rankings` and `GET /v1/rankings/{model}` bodies, held deflated (about 17 times
        /// smaller): sent as they are to clients that accept gzip, inflated as sent to others.
        let bodies: EpochJSON.Bodies
        /// Strong ETag of the uncompressed answers, changes with every epoch.
        public let etag: String
        /// Strong ETag of the gzip answers (a different representation, so a different tag).
        public let gzipETag: String

        var modelBodies: [String: EpochJSON.ModelBody] { bodies.models }

        /// Whether an `If-None-Match` value names this epoch, in either encoding (or `*`).
        func matches(ifNoneMatch header: String?) -> Bool {
            guard let header else { return false }
            return header.split(separator: ",").contains {
                let tag = $0.trimmingCharacters(in: .whitespaces)
                return tag == etag || tag == gzipETag || tag == "*"
            }
        }
    }

    private let current = Mutex<Published?>(nil)
    /// Whether the data directory takes writes (`/readyz` reports it beside the epoch).
    public let storage = StorageHealth()

    public init() {}

    /// Encodes and installs an epoch. Throws only if encoding fails (then the old epoch stays).
    public func publish(_ epoch: Epoch) throws {
        let bodies = try EpochJSON.bodies(epoch, capacityHint: published?.bodies.allStream.readableBytes ?? 0)
        // The epoch's identity: its id and a hash of its encoded body, so every replica serving
        // the same epoch gives the same tag (a router may poll any of them).
        let tag = "epoch-\(epoch.id)-\(FNV1a.hexDigest(bodies.allStream.readableBytesView))"
        let next = Published(epoch: epoch, bodies: bodies, etag: "\"\(tag)\"", gzipETag: "\"\(tag)-gzip\"")
        current.withLock { $0 = next }
    }

    public var published: Published? { current.withLock { $0 } }

    public var epoch: Epoch? { published?.epoch }
}
