import Foundation
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Providers that misbehave at the protocol level (`rankd mock-provider` with `hostile:`): one byte
/// a second, a 1 GB body, bytes that are not UTF-8, a stream that never ends. `rankd serve` probes
/// them continuously beside a healthy provider: every hostile probe ends within the probe timeout
/// (or at the 1 MiB answer cap) as a failure, the daemon's memory stays far below the 1 GB offered,
/// and the rankings keep being served. Read latency with and without the hostile probes in flight
/// is printed (reported in docs/RELIABILITY.md), not asserted: timing is for benchmarks.
@Suite struct HostileProviderTests {
    static let model = "acme/tools-1"
    static let hostile = ["trickle": "trickle", "huge": "huge_body", "badutf8": "invalid_utf8", "endless": "endless_sse"]
    static let healthy = #"{"ttft_ms": 20, "tokens_per_second": 2000}"#

    @Test func hostileProvidersAreCutAtTheirBoundsAndRankingsCarryOn() async throws {
        try await HeavyWork.run {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try
                ("providers:\n  healthy: \(Self.healthy)\n"
                + Self.hostile.sorted(by: <).map { "  \($0.key): {hostile: \($0.value)}\n" }.joined())
                .write(toFile: dir.file("scenario.yaml"), atomically: true, encoding: .utf8)
            let mock = try await DaemonProcess([
                "mock-provider", "--listen", "127.0.0.1:0", "--scenario", dir.file("scenario.yaml"), "--probes",
                RepositoryFiles.path("scoring/probes"),
            ])
            defer { mock.process.terminate() }
            try RepositoryFiles.writePolicy(
                to: dir.file("policy.yaml"),
                replacing: [
                    "interval_seconds: 60 ": "interval_seconds: 0.3 ", "suspicious_interval_seconds: 15 ": "suspicious_interval_seconds: 0.2 ",
                    "max_per_minute: 6 ": "max_per_minute: 600 ", "timeout_seconds: 60\n": "timeout_seconds: 3\n",
                ])
            try
                ("""
                epoch_interval_seconds: 5
                policy_file: policy.yaml
                probes_dir: \(RepositoryFiles.path("scoring/probes"))
                endpoints:

                """
                + (["healthy"] + Self.hostile.keys.sorted()).map {
                    "  - {provider: \($0), model: \(Self.model), base_url: \"\(mock.baseURL)/\($0)/v1\", upstream_model: m, supported_parameters: [tools]}\n"
                }.joined())
                .write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
            let daemon = try await DaemonProcess([
                "serve", "--config", dir.file("rankd.yaml"), "--listen", "127.0.0.1:0", "--data-dir", dir.file("data"),
            ])
            defer { daemon.process.terminate() }
            #expect(await daemon.waitUntilReady())
            let rankings = "\(daemon.baseURL)/v1/rankings/\(Self.model)"

            // Phase 1: every provider healthy; reads measured.
            for name in Self.hostile.keys { try await Self.put("\(mock.baseURL)/control/providers/\(name)", Self.healthy) }
            try await Task.sleep(for: .seconds(2))
            let calm = try await Self.readLatencies(rankings, count: 600)

            // Phase 2: the four turn hostile; reads measured while their probes are in flight.
            for (name, kind) in Self.hostile { try await Self.put("\(mock.baseURL)/control/providers/\(name)", #"{"hostile": "\#(kind)"}"#) }
            let phaseStart = ContinuousClock.now
            var peakRSS = 0.0
            let sampler = Task.detached {
                var peak = 0.0
                while !Task.isCancelled {
                    peak = max(peak, Self.residentMegabytes(pid: daemon.process.processIdentifier))
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return peak
            }
            try await Task.sleep(for: .seconds(1))
            let hostileReads = try await Self.readLatencies(rankings, count: 600)
            // Long enough for several trickle and endless probes to reach the 3 s timeout.
            try await Task.sleep(until: phaseStart + .seconds(9))
            sampler.cancel()
            peakRSS = await sampler.value
            let metrics = try await Self.get("\(daemon.baseURL)/metrics").text
            let finished = { (provider: String) -> [String: Double] in
                var outcomes: [String: Double] = [:]
                for line in metrics.split(separator: "\n") where line.hasPrefix(#"rankd_probes_total{provider="\#(provider)","#) {
                    let outcome = line.firstMatch(of: /outcome="([a-z_0-9]+)"/).map { String($0.1) } ?? "?"
                    outcomes[outcome] = Double(line.split(separator: " ").last!) ?? 0
                }
                return outcomes
            }
            var report: [String: [String: Double]] = [:]
            for provider in ["healthy"] + Self.hostile.keys.sorted() { report[provider] = finished(provider) }
            let ready = try await Self.get("\(daemon.baseURL)/readyz").status
            let order = try await Self.get(rankings).text
            _ = await daemon.stop()

            print(
                "hostile providers: reads p50/p99 \(Self.ms(calm, 0.5))/\(Self.ms(calm, 0.99)) ms calm, \(Self.ms(hostileReads, 0.5))/\(Self.ms(hostileReads, 0.99)) ms with hostile probes in flight; rankd peak RSS \(String(format: "%.0f", peakRSS)) MB; probes finished by outcome: \(report)"
            )
            #expect(ready == 200)
            #expect((report["healthy"]?["ok"] ?? 0) >= 10, "the healthy provider keeps being probed: \(report)")
            // Every hostile provider's probes finish, and as failures: none hangs a probe slot for good.
            for provider in Self.hostile.keys {
                let outcomes = report[provider] ?? [:]
                let failures = outcomes.filter { $0.key != "ok" }.values.reduce(0, +)
                #expect(failures >= 2, "\(provider): probes must end in a failure class: \(outcomes)")
            }
            #expect(report["trickle"]?["timeout"] ?? 0 >= 1, "one byte a second is cut by the timeout: \(report)")
            #expect(report["endless"]?["timeout"] ?? 0 >= 1, "an endless stream is cut by the timeout: \(report)")
            #expect(report["huge"]?["transport_error"] ?? 0 >= 1, "a 1 GB body is cut at the 1 MiB cap: \(report)")
            #expect(peakRSS > 0 && peakRSS < 200, "memory stays bounded with a 1 GB body on offer: \(peakRSS) MB")
            #expect(order.contains(#""provider":"healthy""#))
        }
    }

    static func ms(_ values: [Double], _ q: Double) -> String {
        let sorted = values.sorted()
        return String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))])
    }

    static func residentMegabytes(pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }

    static func readLatencies(_ url: String, count: Int) async throws -> [Double] {
        var latencies: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            let answer = try await get(url)
            let elapsed = ContinuousClock.now - start
            #expect(answer.status == 200)
            latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1_000)
        }
        return latencies
    }

    static func get(_ url: String) async throws -> (status: Int, text: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func put(_ url: String, _ body: String) async throws {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "PUT"
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "PUT \(url) \(body)")
    }
}
