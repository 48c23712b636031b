import ArgumentParser
import Foundation
import RankdConfig
import RankdCore
import RankdDaemon

/// `rankd check-config FILE`: validate a configuration and everything it names, in one pass.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and the policy, benchmark and probe files it names.",
        discussion: "Exit status 0 when valid, 1 when not; every problem is printed with its file, line, key path and fix.")

    @Argument(help: "Configuration file.")
    var file: String

    func run() async throws {
        do {
            let loaded = try ConfigurationLoader.load(path: file)
            let c = loaded.configuration
            let models = Set(c.endpoints.map(\.model)).count
            print("\(file): valid")
            print("  listen \(c.listenAddress), data_dir \(c.dataDirectory), epoch every \(Int(c.epochIntervalSeconds)) s")
            print("  \(c.endpoints.count) endpoint(s) across \(models) model(s); \(c.endpoints.filter { !$0.enabled }.count) disabled")
            print(
                "  policy \(c.policyFile ?? "built-in") (hash \(loaded.policy.hash)); \(loaded.benchmarks.count) benchmark score(s); \(loaded.probeSuites.count) probe suite(s) with \(loaded.probeSuites.map(\.cases.count).reduce(0, +)) case(s)"
            )
            print(
                "  ingest token: \(c.tokens.ingest.map { "from \($0)" } ?? "off"); admin token: \(c.tokens.admin.map { "from \($0)" } ?? "off")"
            )
            print(
                "  reads: \(c.tokens.read.map { "need the token from \($0)" } ?? "open"); /metrics: \(c.tokens.metrics.map { "needs the token from \($0)" } ?? c.tokens.read.map { _ in "needs the read token" } ?? "open")"
            )
            if let tls = c.tls {
                try RankdApplication.checkTLS(tls)
                print("  HTTPS with \(tls.certificateFile) and \(tls.keyFile)")
            } else {
                print("  plain HTTP (no tls)")
            }
            if let postgres = c.postgres, let address = loaded.postgresAddress {
                // The address without its password; the database itself is not contacted here.
                print(
                    "  storage: replicas on PostgreSQL \(address) (URL from \(postgres.url)), pool \(postgres.poolSize), replica \(postgres.replicaName ?? "host:port")"
                )
            } else {
                print("  storage: this node's data directory only (no storage.postgres)")
            }
        } catch let error as RankdApplication.TLSFilesError {
            print("\(file): 1 problem(s)")
            print("  \(error)")
            throw ExitCode(1)
        } catch let errors as ConfigurationErrors {
            print("\(file): \(errors.problems.count) problem(s)")
            for problem in errors.problems { print("  \(problem)") }
            throw ExitCode(1)
        }
    }
}
