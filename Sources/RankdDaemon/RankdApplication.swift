import Hummingbird
import Logging
import NIOCore
import RankdConfig
import RankdCore
import RankdServer
import ServiceLifecycle

/// Builds the whole daemon: stores, ranker, epoch loop and HTTP server, as one Hummingbird
/// application whose service group handles SIGTERM/SIGINT. `rankd serve` runs it; tests build it too.
public enum RankdApplication {
    public typealias App = Application<RouterResponder<BasicRequestContext>>

    /// - Parameters:
    ///   - epochLoop: run the epoch loop (off in router tests, which compute epochs by hand).
    ///   - extraServices: more long-running services to run in the same group (demo traffic, later the prober).
    ///   - onServerRunning: told the bound port once the server listens (useful with port 0).
    public static func build(
        _ loaded: LoadedConfiguration, clock: any WallClock = SystemClock(), logger: Logger, epochLoop: Bool = true,
        extraServices: @Sendable (Ranker) -> [any Service] = { _ in [] },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> (app: App, ranker: Ranker) {
        let configuration = loaded.configuration
        let ranker = try Ranker(loaded: loaded, clock: clock, logger: logger)
        let router = buildRouter(
            ServerDependencies(
                holder: ranker.holder, metrics: ranker.metrics, adminToken: loaded.adminToken,
                recompute: { try await ranker.computeAndPublish(.admin) }))
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort), serverName: "rankd"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.listenPort) },
            logger: logger)
        if epochLoop {
            app.addServices(EpochService(ranker: ranker, intervalSeconds: configuration.epochIntervalSeconds, logger: logger))
        }
        for service in extraServices(ranker) { app.addServices(service) }
        return (app, ranker)
    }
}
