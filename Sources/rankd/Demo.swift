import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RankdConfig
import RankdCore
import RankdDaemon
import RankdMock
import RankdServer
import ServiceLifecycle

/// `rankd demo`: a local mock provider serving five simulated providers of one model, the daemon
/// probing them over HTTP with the shipped probe suite, and a live rank table in the terminal.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run rankd against a local fleet of simulated providers; the fastest starts breaking tool calls after a minute.")

    @Option(help: "HOST:PORT for rankd's HTTP API.")
    var listen = "127.0.0.1:8080"

    @Option(help: "Data directory (default: a new temporary directory).")
    var dataDir: String?

    @Option(help: "Probe suite folder.")
    var probes = "scoring/probes"

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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: probes, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError(
                "--probes \(probes) is not a folder; run from the rankd repository or pass --probes PATH/TO/scoring/probes")
        }
    }

    func run() async throws {
        let logger = logging.bootstrap()
        let directory = dataDir ?? NSTemporaryDirectory() + "rankd-demo-\(UUID().uuidString.prefix(8))"
        guard let mockPort = freeLoopbackPort() else { throw ValidationError("no free port on 127.0.0.1 for the mock provider") }
        let mockBase = "http://127.0.0.1:\(mockPort)"
        let probesPath = URL(fileURLWithPath: probes).standardizedFileURL.path
        let yaml = DemoFleet.configurationYAML(
            listen: listen, dataDirectory: directory, epochIntervalSeconds: epochInterval, mockBaseURL: mockBase,
            probesDirectory: probesPath)
        var loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader.load(
                yaml: yaml, file: "demo", baseDirectory: FileManager.default.currentDirectoryPath, environment: [:])
        } catch let errors as ConfigurationErrors {
            print("rankd demo: \(errors)")
            throw ExitCode(2)
        }
        loaded.policy = DemoFleet.policy()
        // The admin API (recompute, overrides) is off unless a token is given, as in `serve`.
        if let token = ProcessInfo.processInfo.environment["RANKD_ADMIN_TOKEN"], !token.isEmpty { loaded.adminToken = token }

        let scenario = DemoFleet.scenario(faultAfterSeconds: faultAfter)
        let fleet = MockFleet(profiles: scenario.providers, suites: loaded.probeSuites)
        var mockLogger = logger
        mockLogger.logLevel = max(logger.logLevel, .warning)
        let mock = Application(
            router: buildMockRouter(fleet: fleet),
            configuration: .init(address: .hostname("127.0.0.1", port: mockPort), serverName: "rankd-mock"), logger: mockLogger)
        let faultAfter = self.faultAfter
        let (app, _) = try RankdApplication.build(
            loaded, logger: logger,
            extraServices: { ranker in
                [DemoReporter(ranker: ranker, faultAfterSeconds: faultAfter)]
            })
        print(
            """
            rankd demo: 5 simulated providers of \(DemoFleet.model), served by a local mock provider at \(mockBase),
            probed over HTTP with \(loaded.probeSuites.map(\.cases.count).reduce(0, +)) tool-calling cases. At \(Int(faultAfter)) s \(DemoFleet.faultyProvider), the fastest,
            starts answering \(Int(DemoFleet.faultRate * 100))% of tool calls with wrong values (HTTP 200): watch it fall to the back.

              Dashboard: http://\(listen)/
              API:     curl -s http://\(listen)/v1/rankings/\(DemoFleet.model)
              SQLite:  \(directory)/rankings.db   (rankd rankings --db \(directory)/rankings.db)
              Metrics: http://\(listen)/metrics
              Admin:   \(loaded.adminToken == nil ? "off (set RANKD_ADMIN_TOKEN to turn on overrides)" : "on, token from RANKD_ADMIN_TOKEN")
            Ctrl-C to stop.

            """)
        fflush(nil)
        try await RankdApplication.run(
            app, logger: logger, alsoRun: [mock, MockScenarioService(fleet: fleet, steps: scenario.steps, logger: logger)],
            stopAfter: duration.map { .milliseconds(Int64($0 * 1_000)) })
    }
}

/// Prints a compact rank table whenever a new epoch is served, and the seconds and scheduled
/// epochs from the fault's onset to the faulty provider's demotion.
struct DemoReporter: Service {
    let ranker: Ranker
    let faultAfterSeconds: Double

    func run() async throws {
        let start = ContinuousClock.now
        var lastShown: Int64 = -1
        var reported = false
        var scheduledSinceOnset = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let epoch = ranker.holder.epoch, epoch.id != lastShown {
                lastShown = epoch.id
                let elapsed = ContinuousClock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                print("t=\(Int(seconds)) s  " + RankingsTable(epoch).render(model: DemoFleet.model), terminator: "")
                if seconds >= faultAfterSeconds && epoch.trigger == .scheduled { scheduledSinceOnset += 1 }
                let faulty = epoch.ranking(for: DemoFleet.model)?.endpoints.first { $0.provider == DemoFleet.faultyProvider }
                if !reported, seconds >= faultAfterSeconds, let faulty, faulty.status == .demoted,
                    faulty.reasons.contains(ReasonCode.toolCallFailureOutlier)
                {
                    reported = true
                    print(
                        "-> \(DemoFleet.faultyProvider) demoted \(String(format: "%.1f", seconds - faultAfterSeconds)) s after the fault started, at scheduled epoch \(scheduledSinceOnset) after it (\(faulty.reasons.joined(separator: ",")))"
                    )
                }
                print("")
                fflush(nil)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
