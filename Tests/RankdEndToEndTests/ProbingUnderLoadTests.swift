import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import RankdConfig
import RankdCore
import RankdPlatform
import RankdDaemon
import RankdDaemonTestKit
import RankdMock
import RankdServer
import RankdTestKit
import Testing

/// Probing must never block the API: `GET /v1/rankings` latency while 20 probes hang, against the
/// same daemon shape with no probing, in the same run.
@Suite struct ProbingUnderLoadTests {
    func p99(_ client: some TestClientProtocol, count: Int) async throws -> Double {
        var samples: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            try await client.execute(uri: "/v1/rankings", method: .get) { #expect($0.status == .ok) }
            let elapsed = ContinuousClock.now - start
            samples.append(Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15)
        }
        return samples.sorted()[Int(Double(count) * 0.99) - 1]
    }

    func daemon(_ dir: TemporaryDirectory, mockBase: String, probing: Bool) throws -> RankdApplication.App {
        var configuration = RankdConfiguration()
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = 0
        configuration.dataDirectory = dir.path
        configuration.endpoints = (0..<20).map { index in
            Endpoint(
                id: "hang\(index):acme/model", model: "acme/model", provider: "hang\(index)", baseURL: "\(mockBase)/hang/v1",
                upstreamModel: "acme/model")
        }
        var policy = Policy.default
        policy.probing.concurrency = 20
        policy.probing.intervalSeconds = 1
        policy.probing.suspiciousIntervalSeconds = 1
        let loaded = LoadedConfiguration(
            configuration: configuration, policy: policy, probeSuites: [ProbeSuite(name: "one", cases: [probeCaseForLoad])])
        return try RankdApplication.build(loaded, clock: SystemClock(), logger: quietLogger, probing: probing).app
    }

    @Test func rankingsStayFastWhileTwentyProbesHang() async throws {
        let fleet = MockFleet(
            profiles: [
                "hang": {
                    var p = MockProfile(); p.hang = 1; p.hangSeconds = 6; return p
                }()
            ], suites: [])
        let mock = Application(
            router: buildMockRouter(fleet: fleet), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
        try await mock.test(.live) { mockClient in
            let base = "http://127.0.0.1:\(mockClient.port!)"
            let baselineDir = try TemporaryDirectory()
            let loadedDir = try TemporaryDirectory()
            defer { baselineDir.remove(); loadedDir.remove() }

            let baseline = try await daemon(baselineDir, mockBase: base, probing: false).test(.live) { client in
                var ready = false
                for _ in 0..<200 where !ready {
                    ready = try await client.execute(uri: "/readyz", method: .get) { $0.status == .ok }
                    if !ready { try await Task.sleep(for: .milliseconds(10)) }
                }
                return try await p99(client, count: 400)
            }
            let (underLoad, hanging) = try await daemon(loadedDir, mockBase: base, probing: true).test(.live) { client in
                for _ in 0..<300 where (fleet.requestsServed["hang"] ?? 0) < 20 { try await Task.sleep(for: .milliseconds(10)) }
                let hanging = fleet.requestsServed["hang"] ?? 0
                return (try await p99(client, count: 400), hanging)
            }
            print(
                "GET /v1/rankings p99: \(String(format: "%.2f", baseline)) ms without probing, \(String(format: "%.2f", underLoad)) ms with \(hanging) probes hanging (ratio \(String(format: "%.2f", underLoad / baseline)))"
            )
            #expect(hanging >= 20)
            // Judged against the baseline of this run, so a busy machine does not fail it; a blocked
            // concurrency pool would show as hundreds of milliseconds. On a quiet machine both
            // figures are under 2 ms (see docs/probe-suite.md).
            #expect(underLoad <= 3 * baseline + 2, "p99 \(underLoad) ms while probes hang, \(baseline) ms without")
        }
    }
}

let probeCaseForLoad = ProbeCase(
    id: "load", messages: [ChatMessage(role: "user", content: "Where is my order A-10432?")],
    tools: [ToolDefinition(name: "lookup_order", description: "", parameters: .object(["type": .string("object")]))],
    expectation: .toolCall(tool: "lookup_order", arguments: [:]))
