import ArgumentParser
import Foundation
import RankdConfig
import RankdCore
import RankdProber

/// `rankd probe --once`: run the probe suite once against the configured endpoints and print, per
/// endpoint, outcome counts, TTFT p50, tokens/s and each failure with its reason.
struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the probe suite once and print the results per endpoint.")

    @Option(name: .long, help: "Configuration file.")
    var config: String

    @Flag(help: "Run once and exit (the daemon probes continuously).")
    var once = false

    @Option(help: "Only this endpoint id.")
    var endpoint: String?

    func validate() throws {
        guard once else { throw ValidationError("only --once is supported here; `rankd serve` probes continuously") }
    }

    func run() async throws {
        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader.load(path: config)
        } catch let errors as ConfigurationErrors {
            print("\(config): \(errors.problems.count) problem(s):\n\(errors)")
            throw ExitCode(2)
        }
        let cases = loaded.probeSuites.flatMap(\.cases)
        guard !cases.isEmpty else { throw ValidationError("\(config) names no probe suites; set probes_dir") }
        var endpoints = loaded.configuration.endpoints.filter(\.enabled)
        if let endpoint {
            endpoints = endpoints.filter { $0.id == endpoint }
            guard !endpoints.isEmpty else {
                throw ValidationError(
                    "no enabled endpoint \"\(endpoint)\"; known: \(loaded.configuration.endpoints.map(\.id).joined(separator: ", "))")
            }
        }
        let rule = loaded.policy.probing
        let runner = ProbeRunner(rule: rule)
        var anyFailed = false
        for endpoint in endpoints {
            let results = await withTaskGroup(of: ProbeRunner.Result.self) { group in
                for probe in cases {
                    group.addTask { await runner.run(probe, on: endpoint) { Timestamp(secondsSince1970: Date().timeIntervalSince1970) } }
                }
                var collected: [ProbeRunner.Result] = []
                for await result in group { collected.append(result) }
                return collected.sorted { $0.caseID < $1.caseID }
            }
            print(ProbeReport(endpoint: endpoint, results: results).render())
            anyFailed = anyFailed || results.contains { $0.verdict.outcome != .ok }
        }
        if anyFailed { throw ExitCode(1) }
    }
}

/// One endpoint's probe results as text.
struct ProbeReport {
    let endpoint: Endpoint
    let results: [ProbeRunner.Result]

    func render() -> String {
        var counts: [Outcome: Int] = [:]
        for result in results { counts[result.verdict.outcome, default: 0] += 1 }
        let ttfts = results.compactMap(\.observation.ttftMilliseconds).sorted()
        let rates = results.compactMap(\.observation.outputTokensPerSecond).sorted()
        func median(_ values: [Double]) -> String { values.isEmpty ? "-" : String(format: "%.0f", values[values.count / 2]) }
        var out = "\(endpoint.id)  (\(endpoint.baseURL))\n"
        out += "  outcomes: " + counts.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " ") + "\n"
        out += "  ttft p50: \(median(ttfts)) ms   tokens/s p50: \(median(rates))\n"
        for result in results where result.verdict.outcome != .ok {
            out += "  FAIL \(result.caseID): \(result.verdict.outcome.rawValue): \(result.verdict.detail)\n"
        }
        return out
    }
}
