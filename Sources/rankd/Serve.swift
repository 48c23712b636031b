import ArgumentParser
import Foundation
import Logging
import RankdConfig
import RankdDaemon

/// `rankd serve`: run the daemon from a configuration file.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the ranking daemon.")

    @Option(name: .long, help: "Configuration file (see deploy/rankd.example.yaml).")
    var config: String

    @Option(help: "HOST:PORT to listen on; overrides the file's listen.")
    var listen: String?

    @Option(help: "Data directory for state.db and rankings.db; overrides the file's data_dir.")
    var dataDir: String?

    @Flag(inversion: .prefixedNo, help: "Run the synthetic prober (when probes_dir is configured).")
    var probe = true

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        let app = try build(logger: logger)
        try await RankdApplication.run(app, logger: logger)
    }

    /// The application, built from the configuration file. The loaded configuration is not kept
    /// once this returns: the running daemon shares the ranker's registry instead (with tens of
    /// thousands of endpoints the parsed file and its endpoint array are megabytes).
    private func build(logger: Logger) throws -> RankdApplication.App {
        var loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader.load(path: config)
            try CommandOverrides.apply(listen: listen, dataDir: dataDir, to: &loaded.configuration)
        } catch let errors as ConfigurationErrors {
            FileHandle.standardError.write(
                Data("rankd: refusing to start; \(config) has \(errors.problems.count) problem(s):\n\(errors)\n".utf8))
            throw ExitCode(2)
        }
        let app: RankdApplication.App
        do {
            (app, _) = try RankdApplication.build(
                loaded, logger: logger, probing: probe, configurationFile: config,
                adjustReloaded: { [listen, dataDir] reloaded in
                    try CommandOverrides.apply(listen: listen, dataDir: dataDir, to: &reloaded.configuration)
                })
        } catch let error as RankdApplication.TLSFilesError {
            FileHandle.standardError.write(Data("rankd: refusing to start; \(error)\n".utf8))
            throw ExitCode(2)
        }
        logger.info(
            "rankd \(Rankd.version) listening",
            metadata: [
                "listen": .string(loaded.configuration.listenAddress), "scheme": .string(loaded.configuration.tls == nil ? "http" : "https"),
            ])
        return app
    }
}

/// Flags that override the configuration file, validated like the file.
enum CommandOverrides {
    static func apply(listen: String?, dataDir: String?, to configuration: inout RankdConfiguration) throws {
        if let listen {
            guard let parsed = parseListenAddress(listen) else {
                throw ConfigurationErrors(problems: [
                    ConfigProblem(file: "--listen", path: "", message: "\"\(listen)\" is not HOST:PORT; write it like 127.0.0.1:8080")
                ])
            }
            configuration.listenHost = parsed.host
            configuration.listenPort = parsed.port
        }
        if let dataDir {
            configuration.dataDirectory = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        }
    }
}
