import Foundation
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Fault reaction as gateways meet it (about 2.5 minutes): one `rankd serve` with the default
/// policy, one `rankd mock-provider`, five models of three providers each, and one
/// `scripts/gateway-loop.py` per model, all at once. Each loop follows `POST /v1/route`, falls
/// back on errors and invalid tool calls, posts telemetry, and at 60 s of its own clock gives the
/// provider carrying its model's traffic (the fastest, `<kind>-fast`) one fault:
///
/// | model | fault at 60 s | must hold |
/// |---|---|---|
/// | slow | TTFT 150 ms → 3,000 ms (20×), back at 90 s | share < 10% by 70 s; back > 10% by 150 s |
/// | hang | 30% of requests never answered (gateway timeout 3 s, six workers) | share < 10% by 70 s |
/// | mixed | 20% wrong tool, schema violations, cut-off streams; a peer has 3% of the same from the start | share < 10% by 75 s |
/// | limit | 90% HTTP 429 with Retry-After 5 s, until 90 s | first attempts on it < 10% from 65 s to 90 s; share back > 10% by 120 s |
/// | wrong | 20% schema-valid wrong values (only probes can see them) | demoted by 150 s (see below) |
///
/// Nothing in the policy is shortened. The shares and the users' failures are printed per loop.
@Suite struct FaultReactionEndToEndTests {
    struct Kind {
        var name: String
        var fault: String
        var recovery: String?
        var timeout: Double
        var workers = 3
    }

    static let healthy = #"{"ttft_ms": 150, "tokens_per_second": 200, "jitter": 0.1}"#
    static let kinds = [
        Kind(name: "slow", fault: #"{"ttft_ms": 3000, "tokens_per_second": 200, "jitter": 0.1}"#, recovery: healthy, timeout: 10),
        Kind(
            name: "hang", fault: #"{"ttft_ms": 150, "tokens_per_second": 200, "jitter": 0.1, "hang": 0.3, "hang_seconds": 30}"#,
            recovery: nil, timeout: 3, workers: 6),
        Kind(
            name: "mixed",
            fault:
                #"{"ttft_ms": 150, "tokens_per_second": 200, "jitter": 0.1, "wrong_tool": 0.07, "schema_violation": 0.07, "truncated": 0.06}"#,
            recovery: nil, timeout: 5),
        Kind(
            name: "limit", fault: #"{"ttft_ms": 150, "tokens_per_second": 200, "jitter": 0.1, "http_429": 0.9, "retry_after_seconds": 5}"#,
            recovery: healthy, timeout: 5),
        Kind(
            name: "wrong", fault: #"{"ttft_ms": 150, "tokens_per_second": 200, "jitter": 0.1, "wrong_value": 0.2}"#, recovery: nil,
            timeout: 5),
    ]

    @Test(.enabled(if: Needs.programs("python3"), "needs python3 (the gateway loop)"))
    func everyKindOfFaultMovesTrafficWithinSeconds_150s() async throws {
        let binary = RepositoryFiles.rankdExecutable
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build rankd first (swift build --build-tests)")
        try #require(ChildProcess.isInstalled("python3"), "the gateway loop needs python3")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var scenario = "providers:\n"
        var endpoints: [String] = []
        for kind in Self.kinds {
            for (suffix, ttft, tps) in [("fast", 150, 200), ("mid", 400, 120), ("slow", 700, 80)] {
                let extra = kind.name == "mixed" && suffix == "mid" ? ", wrong_tool: 0.01, schema_violation: 0.01, truncated: 0.01" : ""
                scenario += "  \(kind.name)-\(suffix): {ttft_ms: \(ttft), tokens_per_second: \(tps), jitter: 0.1\(extra)}\n"
                endpoints.append(
                    """
                      - {provider: \(kind.name)-\(suffix), model: acme/\(kind.name), base_url: "MOCK/\(kind.name)-\(suffix)/v1", upstream_model: m,
                         supported_parameters: [tools, tool_choice], pricing: {prompt_per_million_usd: 1, completion_per_million_usd: 1}}
                    """)
            }
        }
        try scenario.write(toFile: dir.file("scenario.yaml"), atomically: true, encoding: .utf8)
        let mock = try await DaemonProcess([
            "mock-provider", "--listen", "127.0.0.1:0", "--scenario", dir.file("scenario.yaml"), "--probes",
            RepositoryFiles.path("scoring/probes"),
        ])
        defer { mock.process.terminate() }
        try """
        epoch_interval_seconds: 300
        policy_file: \(RepositoryFiles.path("scoring/policy.yaml"))
        probes_dir: \(RepositoryFiles.path("scoring/probes"))
        tokens:
          ingest: {env: RANKD_INGEST_TOKEN}
        endpoints:
        \(endpoints.joined(separator: "\n").replacingOccurrences(of: "MOCK", with: mock.baseURL))
        """.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
        let token = "ingest-token-for-the-fault-test-0123"
        let daemon = try await DaemonProcess(
            ["serve", "--config", dir.file("rankd.yaml"), "--listen", "127.0.0.1:0", "--data-dir", dir.file("data")],
            environment: ["RANKD_INGEST_TOKEN": token])
        defer { daemon.process.terminate() }
        #expect(await daemon.waitUntilReady())

        let runs = try await HeavyWork.run {
            try await withThrowingTaskGroup(of: (String, ChildProcess.Finished).self) { group in
                for kind in Self.kinds {
                    var arguments = [
                        RepositoryFiles.path("scripts/gateway-loop.py"), "--rankd", daemon.baseURL, "--token", token, "--model",
                        "acme/\(kind.name)", "--duration", "150", "--workers", String(kind.workers), "--timeout", String(kind.timeout),
                        "--control",
                        mock.baseURL, "--at", "60:\(kind.name)-fast:\(kind.fault)",
                    ]
                    if let recovery = kind.recovery { arguments += ["--at", "90:\(kind.name)-fast:\(recovery)"] }
                    group.addTask { (kind.name, try await ChildProcess.runOffPool("python3", arguments, timeoutSeconds: 220)) }
                }
                var all: [String: ChildProcess.Finished] = [:]
                for try await (name, run) in group { all[name] = run }
                return all
            }
        }
        // How often each faulty endpoint was probed and with what outcome: when a reaction is late,
        // this tells a probe that stalled from a statistical test that took its time.
        if let (data, _) = try? await URLSession.shared.data(from: URL(string: "\(daemon.baseURL)/metrics")!) {
            print(
                "rankd's probes of the faulty endpoints:\n"
                    + String(decoding: data, as: UTF8.self).split(separator: "\n").filter {
                        $0.hasPrefix("rankd_probes_total{") && $0.contains("-fast\"")
                    }.joined(separator: "\n"))
        }
        _ = await daemon.stop()
        print(
            "rankd's fault log:\n"
                + daemon.logs.split(separator: "\n").filter {
                    $0.contains("share lowered") || $0.contains("fast path") || $0.contains("outlier")
                        || ($0.contains("probe failed") && $0.contains("wrong-fast"))
                }
                .joined(separator: "\n"))

        var reports: [String: [String: Any]] = [:]
        for kind in Self.kinds {
            let run = try #require(runs[kind.name])
            print("gateway loop, model acme/\(kind.name) (150 s):\n\(run.output.split(separator: "\n").dropLast().joined(separator: "\n"))")
            #expect(run.status == 0 && !run.timedOut, "\(kind.name): \(run.output.suffix(1_000))")
            let line = try #require(run.output.split(separator: "\n").last, "no report")
            reports[kind.name] = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(run.output)")
        }

        /// A provider's published share at `seconds` of its loop's clock (the last change before it).
        func share(_ kind: String, at seconds: Double) -> Double {
            let timeline = (reports[kind]?["share_timeline"] as? [String: [[Double]]])?["\(kind)-fast"] ?? []
            return timeline.last { $0[0] <= seconds }?[1] ?? 0
        }
        /// The first change at or after `from` that makes `test` true, or nil.
        func firstTime(_ kind: String, from: Double, _ test: (Double) -> Bool) -> Double? {
            let timeline = (reports[kind]?["share_timeline"] as? [String: [[Double]]])?["\(kind)-fast"] ?? []
            if test(share(kind, at: from)) { return from }
            return timeline.first { $0[0] >= from && test($0[1]) }?[0]
        }
        func onset(_ kind: String) -> Double {
            ((reports[kind]?["faults_applied"] as? [[String: Any]])?.first?["at_seconds"] as? Double) ?? 60
        }
        var summary: [String] = []
        for kind in Self.kinds.map(\.name) {
            let report = reports[kind]!
            let before = share(kind, at: onset(kind) - 0.5)
            #expect(before >= 0.3, "\(kind)-fast carried the traffic before its fault: share \(before)")
            let requests = report["requests"] as? Int ?? 0
            let failures = report["user_failures"] as? Int ?? 0
            print("\(kind): telemetry \(report["telemetry"] ?? "?"), user TTFT p50 \(report["user_ttft_ms_p50"] ?? "?") ms")
            let low = firstTime(kind, from: onset(kind)) { $0 < 0.1 }
            summary.append(
                "\(kind): share \(before) before, below 10% at +\(low.map { String(format: "%.1f", $0 - onset(kind)) } ?? "never") s; "
                    + "\(failures) of \(requests) user requests failed")
        }

        let slowLow = firstTime("slow", from: onset("slow")) { $0 < 0.1 }
        #expect(slowLow.map { $0 - onset("slow") <= 10 } ?? false, "slow: below 10% at \(String(describing: slowLow))")
        let recovered = firstTime("slow", from: 90) { $0 > 0.1 }
        #expect(recovered.map { $0 <= 150 } ?? false, "slow: back above 10% at \(String(describing: recovered)) (recovery at 90 s)")
        summary.append("slow: back above 10% at \(recovered.map { String(format: "+%.1f", $0 - 90) } ?? "never") s after recovery")

        let hangLow = firstTime("hang", from: onset("hang")) { $0 < 0.1 }
        #expect(hangLow.map { $0 - onset("hang") <= 10 } ?? false, "hang: below 10% at \(String(describing: hangLow))")

        let mixedLow = firstTime("mixed", from: onset("mixed")) { $0 < 0.1 }
        #expect(mixedLow.map { $0 - onset("mixed") <= 15 } ?? false, "mixed: below 10% at \(String(describing: mixedLow))")

        // The 429 storm: first attempts on the limited endpoint from 5 s after onset to the end.
        let firsts = (reports["limit"]?["first_per_second"] as? [String: [String: Int]]) ?? [:]
        func firstAttempts(from: Int, to: Int) -> (mine: Int, all: Int) {
            var mine = 0
            var all = 0
            for (provider, seconds) in firsts {
                for (second, count) in seconds where Int(second).map({ $0 >= from && $0 < to }) ?? false {
                    all += count
                    if provider == "limit-fast" { mine += count }
                }
            }
            return (mine, all)
        }
        let storm = firstAttempts(from: Int(onset("limit").rounded(.up)) + 5, to: 90)
        #expect(storm.all > 0 && Double(storm.mine) < 0.1 * Double(storm.all), "limit: first attempts during the storm \(storm)")
        let limitBack = firstTime("limit", from: 90) { $0 > 0.1 }
        #expect(limitBack.map { $0 <= 120 } ?? false, "limit: share back above 10% at \(String(describing: limitBack))")
        summary.append(
            "limit: first attempts \(storm.mine) of \(storm.all) during the storm; share back at \(limitBack.map { String(format: "+%.1f", $0 - 90) } ?? "never") s"
        )

        // The goal, demoted within 60 s in 9 of 10 runs, is checked over ten seeds by
        // `SimulatedFleetTests`; one live run may be the tenth, so this run is held to 90 s.
        let demoted = (reports["wrong"]?["demoted_at_seconds"] as? [String: Double])?["wrong-fast"]
        #expect(demoted.map { $0 - onset("wrong") <= 90 } ?? false, "wrong: demoted at \(String(describing: demoted))")
        summary.append("wrong: demoted at \(demoted.map { String(format: "+%.1f", $0 - onset("wrong")) } ?? "never") s")
        // What users got meanwhile: the requests the faulty provider served from the fault's
        // 10 s bucket to its demotion's (about a fifth of them carried a wrong value).
        let buckets = (reports["wrong"]?["buckets"] as? [[String: Any]]) ?? []
        let exposed = buckets.filter {
            guard let start = $0["start_seconds"] as? Int else { return false }
            return Double(start + 10) > onset("wrong") && Double(start) <= (demoted ?? 150)
        }
        let servedByIt = exposed.reduce(0) { $0 + (($1["served"] as? [String: Int])?["wrong-fast"] ?? 0) }
        let servedAll = exposed.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) }
        summary.append("wrong: wrong-fast served \(servedByIt) of \(servedAll) requests from the fault's bucket to its demotion")
        print("fault reaction e2e:\n  " + summary.joined(separator: "\n  "))
    }
}
