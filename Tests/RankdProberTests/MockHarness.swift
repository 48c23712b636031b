import Hummingbird
import HummingbirdTesting
import Logging
import RankdConfig
import RankdCore
import RankdMock
import RankdProber
import RankdTestKit
import Testing

/// The shipped probe suite, loaded once.
let shippedSuite: ProbeSuite = {
    let problems = ProblemList()
    let suites = ProbeSuiteLoader.loadDirectory(RepositoryFiles.path("scoring/probes"), problems: problems)
    precondition(problems.isEmpty, "\(problems.problems)")
    return suites[0]
}()

func probeCase(_ id: String, stream: Bool? = nil) -> ProbeCase {
    var probe = shippedSuite.cases.first { $0.id == id }!
    if let stream { probe.stream = stream }
    return probe
}

/// Runs `body` with a mock provider fleet listening on 127.0.0.1; hands it the base URL of the
/// fleet (`http://127.0.0.1:PORT`) and the fleet itself.
func withMock<T: Sendable>(_ profiles: [String: MockProfile], _ body: @Sendable (String, MockFleet) async throws -> T) async throws -> T {
    let fleet = MockFleet(profiles: profiles, suites: [shippedSuite])
    var logger = Logger(label: "mock")
    logger.logLevel = .critical
    let app = Application(
        router: buildMockRouter(fleet: fleet), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
    return try await app.test(.live) { client in
        try await body("http://127.0.0.1:\(client.port!)", fleet)
    }
}

func endpoint(_ provider: String, base: String) -> Endpoint {
    Endpoint(
        id: "\(provider):acme/model", model: "acme/model", provider: provider, baseURL: "\(base)/\(provider)/v1",
        upstreamModel: "acme/model")
}

func profile(_ configure: (inout MockProfile) -> Void = { _ in }) -> MockProfile {
    var profile = MockProfile()
    profile.ttftMs = 20
    profile.tokensPerSecond = 2_000
    configure(&profile)
    return profile
}
