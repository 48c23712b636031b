import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

extension RankdApplication {
    /// Runs the application until SIGTERM/SIGINT (graceful: the epoch in progress finishes, minute
    /// buckets are flushed, the server drains), or until `stopAfter` has passed.
    /// - Parameter alsoRun: services to run beside it (the demo's mock provider), stopped with it.
    public static func run(_ app: App, logger: Logger, alsoRun: [any Service] = [], stopAfter: Duration? = nil) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = alsoRun.map { .init(service: $0) } + [.init(service: app)]
        if let stopAfter {
            services.append(
                .init(service: StopAfter(duration: stopAfter, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension RankdApplication {
    /// Runs services until SIGTERM/SIGINT (`rankd mock-provider`).
    public static func runServices(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Ends the group gracefully after a fixed time (`rankd demo --duration`).
struct StopAfter: Service {
    let duration: Duration
    let logger: Logger

    func run() async throws {
        // Returns early (and quietly) when the group is already shutting down.
        guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: duration) })) != nil else { return }
        logger.info("duration reached; shutting down")
    }
}
