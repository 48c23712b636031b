import ArgumentParser
import Foundation
import Logging
import RankdConfig
import RankdCore
import RankdDaemon
import RankdServer
import ServiceLifecycle

/// `rankd demo`: the daemon on a built-in fleet with simulated traffic, so a new user sees ranks,
/// explanations and a demotion within about a minute. Prints the rank table at every new epoch.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run rankd on a built-in simulated fleet; one fast provider starts breaking tool calls after a minute.")

    @Option(help: "HOST:PORT for the HTTP API.")
    var listen = "127.0.0.1:8080"

    @Option(help: "Data directory (default: a new temporary directory).")
    var dataDir: String?

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    @Option(help: "Seconds before the fault starts.")
    var faultAfter: Double = 60

    @Option(help: "Seconds between scheduled epochs.")
    var epochInterval: Int = 10

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard parseListenAddress(listen) != nil else {
            throw ValidationError("--listen \(listen) is not HOST:PORT; write it like 127.0.0.1:8080")
        }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive seconds") }
        guard (5...3_600).contains(epochInterval) else { throw ValidationError("--epoch-interval must be 5...3600 seconds") }
    }

    func run() async throws {
        let logger = logging.bootstrap()
        let directory = dataDir ?? NSTemporaryDirectory() + "rankd-demo-\(UUID().uuidString.prefix(8))"
        let yaml = DemoFleet.configurationYAML(listen: listen, dataDirectory: directory, epochIntervalSeconds: epochInterval)
        let loaded = try ConfigurationLoader.load(
            yaml: yaml, file: "demo", baseDirectory: FileManager.default.currentDirectoryPath, environment: [:])
        let clock = SystemClock()
        let faultAfter = self.faultAfter
        let (app, ranker) = try RankdApplication.build(
            loaded, clock: clock, logger: logger,
            extraServices: { ranker in
                [DemoTraffic(ranker: ranker, clock: clock, faultAfterSeconds: faultAfter, logger: logger), DemoReporter(ranker: ranker)]
            })
        _ = ranker
        print(
            """
            rankd demo: 8 simulated endpoints, 2 models; swiftinfer breaks tool calls after \(Int(faultAfter)) s.
            API: http://\(listen)/v1/rankings   data: \(directory)/rankings.db   Ctrl-C to stop.

            """)
        try await RankdApplication.run(app, logger: logger, stopAfter: duration.map { .milliseconds(Int64($0 * 1_000)) })
    }
}

/// Prints the rank table whenever a new epoch is served.
struct DemoReporter: Service {
    let ranker: Ranker

    func run() async throws {
        var lastShown: Int64 = -1
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let epoch = ranker.holder.epoch, epoch.id != lastShown {
                lastShown = epoch.id
                print(RankingsTable(epoch).render(), terminator: "\n")
                fflush(nil)
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}
