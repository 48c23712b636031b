import RankdCore

/// Where per-endpoint figures over the rolling windows come from (the daemon's window ledger):
/// the preferred cut-offs of `/v1/route` and the `/v1/models/{model}/endpoints` listing.
public protocol EndpointFiguresSource: Sendable {
    /// The window the preferred cut-offs are judged over, in seconds (`EndpointFigures.windows` key).
    var preferenceWindowSeconds: Int { get }
    /// The long window, in seconds (the listing's `uptime_last_1d`).
    var longWindowSeconds: Int { get }
    /// Figures of these endpoints, as of now: over every window, or over the one window of
    /// `onlyWindowSeconds`. Throws when the windows cannot be brought up to date.
    func figures(for endpointIDs: [String], onlyWindowSeconds: Int?) async throws -> [String: EndpointFigures]
}
