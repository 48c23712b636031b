import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RankdConfig
import RankdCore
import RankdDaemon
import RankdMock

/// `rankd mock-provider`: an OpenAI-compatible server of simulated providers, for tests, demos and
/// pointing a gateway at.
struct MockProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-provider",
        abstract: "Serve simulated OpenAI-compatible providers with injectable faults (docs/mock-provider.md).")

    @Option(help: "HOST:PORT to listen on.")
    var listen = "127.0.0.1:9000"

    @Option(help: "Scenario file: starting profiles and a schedule of changes.")
    var scenario: String?

    @Option(help: "Provider slugs to serve with the default profile, comma-separated (when there is no scenario).")
    var providers = "mock"

    @Option(help: "Probe suite folder whose cases the mock answers correctly.")
    var probes: String?

    @Option(help: "Seed of the fault draws.")
    var seed: UInt64 = 7

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        guard let address = parseListenAddress(listen) else { throw ValidationError("--listen \(listen) is not HOST:PORT") }
        let loadedScenario: MockScenario
        do {
            loadedScenario =
                try scenario.map(MockScenarioLoader.load(path:))
                ?? MockScenario(
                    providers: Dictionary(uniqueKeysWithValues: providers.split(separator: ",").map { (String($0), MockProfile()) }))
        } catch let errors as ConfigurationErrors {
            print("rankd mock-provider: \(errors.problems.count) problem(s):\n\(errors)")
            throw ExitCode(2)
        }
        var suites: [ProbeSuite] = []
        if let probes {
            let problems = ProblemList()
            suites = ProbeSuiteLoader.loadDirectory(probes, problems: problems)
            guard problems.isEmpty else {
                print("rankd mock-provider: \(problems.problems.map(\.description).joined(separator: "\n"))")
                throw ExitCode(2)
            }
        }
        let fleet = MockFleet(profiles: loadedScenario.providers, suites: suites, seed: seed)
        let app = Application(
            router: buildMockRouter(fleet: fleet),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "rankd-mock"),
            logger: logger)
        for provider in loadedScenario.providers.keys.sorted() {
            print("http://\(listen)/\(provider)/v1/chat/completions")
        }
        print("control: GET/PUT http://\(listen)/control/providers[/NAME]")
        fflush(nil)
        try await RankdApplication.runServices(
            [app, MockScenarioService(fleet: fleet, steps: loadedScenario.steps, logger: logger)], logger: logger)
    }
}
