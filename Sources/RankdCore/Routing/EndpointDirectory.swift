/// The registry looked up by endpoint id. It shares the registry array's storage and keeps only
/// an index beside it: a `[String: Endpoint]` would copy every endpoint, for a lookup per routed
/// entry.
public struct EndpointDirectory: Sendable {
    public let endpoints: [Endpoint]
    private let positions: [String: Int]

    /// With duplicate ids (configuration refuses them) the first one wins.
    public init(_ endpoints: [Endpoint]) {
        self.endpoints = endpoints
        var positions: [String: Int] = [:]
        positions.reserveCapacity(endpoints.count)
        for (index, endpoint) in endpoints.enumerated() where positions[endpoint.id] == nil { positions[endpoint.id] = index }
        self.positions = positions
    }

    public subscript(id: String) -> Endpoint? {
        positions[id].map { endpoints[$0] }
    }

    /// Where the endpoint stands in `endpoints`, to read it in place.
    public func position(of id: String) -> Int? { positions[id] }
}
