import RankdCore
import Synchronization

/// What a configuration reload replaces while the server runs: the registry routes and listings
/// read, and the tokens. Each request reads the values in force when it arrives; a reload swaps
/// them whole, so no request sees half of one configuration and half of another.
public final class LiveSettings: Sendable {
    public struct Values: Sendable {
        public var registry: EndpointDirectory
        /// The read, metrics and admin tokens.
        public var access: ReadAccess
        public var ingestToken: String?

        public init(registry: [Endpoint], access: ReadAccess, ingestToken: String?) {
            self.registry = EndpointDirectory(registry)
            self.access = access
            self.ingestToken = ingestToken
        }
    }

    private let state: Mutex<Values>

    public init(_ values: Values) { state = Mutex(values) }

    public var values: Values { state.withLock { $0 } }
    public var registry: EndpointDirectory { state.withLock { $0.registry } }
    public var access: ReadAccess { state.withLock { $0.access } }
    public var adminToken: String? { state.withLock { $0.access.adminToken } }
    public var ingestToken: String? { state.withLock { $0.ingestToken } }

    public func replace(_ values: Values) { state.withLock { $0 = values } }
}
