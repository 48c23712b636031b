import Foundation
import RankdConfig
import RankdCore
import RankdDaemonTestKit
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The files of `deploy/`: the systemd unit passes `systemd-analyze verify`, the production
/// configurations pass `rankd check-config`, the container file copies what exists, the alert
/// rules pass promtool and their unit tests, and every metric the alerts and the Grafana dashboard
/// use is on `/metrics` of a running daemon. (The Kubernetes manifests are validated against the
/// Kubernetes schemas by scripts/check-integrations.sh.)
@Suite struct DeploymentTests {
    static let productionConfig = RepositoryFiles.path("deploy/rankd.production.yaml")

    @Test(.enabled(if: Needs.programs("systemd-analyze"), "needs systemd-analyze: apt-get install -y systemd"))
    func systemdUnitVerifiesCleanlyAndIsHardened() async throws {
        try #require(ChildProcess.isInstalled("systemd-analyze"), "install systemd (systemd-analyze)")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // verify checks that ExecStart's program exists: point it at the built binary.
        let unit = try String(contentsOfFile: RepositoryFiles.path("deploy/systemd/rankd.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/rankd serve --config /etc/rankd/rankd.yaml"))
        #expect(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"), "systemctl reload sends SIGHUP")
        let copy = dir.file("rankd.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/rankd", with: RepositoryFiles.rankdExecutable).write(
            toFile: copy, atomically: true, encoding: .utf8)

        let verify = try await ChildProcess.runOffPool("systemd-analyze", ["verify", copy])
        #expect(verify.status == 0, "\(verify.output)")
        // verify exits 0 on unknown keys and bad values too, printing a warning: none allowed.
        #expect(verify.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(verify.output)")

        let security = try await ChildProcess.runOffPool("systemd-analyze", ["security", "--offline=yes", copy])
        let exposure = security.output.firstMatch(of: /Overall exposure level for rankd\.service: ([0-9.]+)/).flatMap { Double($0.1) }
        let level = try #require(exposure, "\(security.output)")
        print("systemd-analyze security --offline=yes deploy/systemd/rankd.service: exposure \(level) (0 best, 10 worst)")
        #expect(level <= 2.0, "\(security.output)")

        let sysusers = try String(contentsOfFile: RepositoryFiles.path("deploy/systemd/rankd.sysusers.conf"), encoding: .utf8)
        #expect(sysusers.contains("u rankd - ") && unit.contains("User=rankd") && unit.contains("StateDirectory=rankd"))
    }

    /// The groups `systemd-analyze syscall-filter` prints, each with its members (system calls and
    /// other groups, unexpanded).
    static func syscallGroups() async throws -> [String: [String]] {
        let listing = try await ChildProcess.runOffPool("systemd-analyze", ["syscall-filter"])
        try #require(listing.status == 0, "\(listing.output)")
        var groups: [String: [String]] = [:]
        var current: String?
        for line in listing.output.split(separator: "\n") {
            if line.hasPrefix("@") {
                current = String(line)
                groups[String(line), default: []] = []
            } else if line.hasPrefix(" "), let group = current {
                let item = line.trimmingCharacters(in: .whitespaces)
                if !item.isEmpty && !item.hasPrefix("#") { groups[group, default: []].append(item) }
            } else {
                current = nil
            }
        }
        return groups
    }

    /// The system calls a unit's `SystemCallFilter=` lines allow, applied as systemd does: the first
    /// (not inverted) line sets the allow list, later plain lines add to it and `~` lines take away.
    static func allowedSyscalls(unit: String, groups: [String: [String]]) -> Set<String> {
        func expand(_ name: String, seen: Set<String> = []) -> Set<String> {
            guard name.hasPrefix("@") else { return [name] }
            guard !seen.contains(name) else { return [] }
            return (groups[name] ?? []).reduce(into: Set<String>()) { $0.formUnion(expand($1, seen: seen.union([name]))) }
        }
        var allowed = Set<String>()
        for line in unit.split(separator: "\n") where line.hasPrefix("SystemCallFilter=") {
            var value = line.dropFirst("SystemCallFilter=".count)
            let remove = value.hasPrefix("~")
            if remove { value = value.dropFirst() }
            let names = value.split(separator: " ").reduce(into: Set<String>()) { $0.formUnion(expand(String($1))) }
            if remove { allowed.subtract(names) } else { allowed.formUnion(names) }
        }
        return allowed
    }

    /// Every system call `rankd serve` makes while it probes, ingests (its workers lowering their
    /// priority), publishes epochs and stops, counted by `strace -f -c`, is one the shipped unit's
    /// filter allows; the unit allows `setpriority` beyond `@system-service` minus `@privileged`
    /// and `@resources`, and nothing else. About 15 s.
    @Test(.enabled(if: Needs.programs("strace", "systemd-analyze"), "needs strace and systemd-analyze: apt-get install -y strace systemd"))
    func systemdSyscallFilterAllowsEveryCallRankdMakes_about15s() async throws {
        let unit = try String(contentsOfFile: RepositoryFiles.path("deploy/systemd/rankd.service"), encoding: .utf8)
        let groups = try await Self.syscallGroups()
        try #require(groups["@system-service"] != nil, "systemd-analyze syscall-filter lists no @system-service")
        let allowed = Self.allowedSyscalls(unit: unit, groups: groups)
        let baseline = Self.allowedSyscalls(
            unit: "SystemCallFilter=@system-service\nSystemCallFilter=~@privileged @resources\n", groups: groups)
        #expect(allowed.subtracting(baseline) == ["setpriority"], "beyond the baseline: \(allowed.subtracting(baseline).sorted())")
        #expect(baseline.subtracting(allowed).isEmpty)

        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let counts = dir.file("strace.txt")
        // As root, rankd runs as `nobody`, as the unit runs it as `rankd`: SQLite calls fchown on
        // its journal files only when it runs as root.
        let asRoot = geteuid() == 0
        let stopped = try await HeavyWork.run {
            try await Self.withLivelyDaemon(
                wrapper: ["/usr/bin/env", "strace", "-f", "-c", "-o", counts] + (asRoot ? ["-u", "nobody"] : []), otherUser: asRoot
            ) { daemon, _ in
                await daemon.stopWrapped()
            }
        }
        #expect(stopped, "rankd under strace stopped on SIGTERM")
        let summary = try String(contentsOfFile: counts, encoding: .utf8)
        // Rows of `% time, seconds, usecs/call, calls, [errors,] syscall`; the name is the last column.
        let called = Set(
            summary.split(separator: "\n").compactMap { line -> String? in
                let columns = line.split(separator: " ")
                guard columns.count >= 5, Double(columns[0]) != nil, let name = columns.last, name != "total" else { return nil }
                return String(name)
            })
        print("rankd serve under strace made \(called.count) distinct system calls: \(called.sorted().joined(separator: " "))")
        #expect(called.count > 20, "\(summary)")
        #expect(called.contains("setpriority"), "the ingest workers lower their priority: \(summary)")
        let denied = called.subtracting(allowed).sorted()
        #expect(denied.isEmpty, "the unit's SystemCallFilter would deny \(denied)")
    }

    /// Lays out `/etc/rankd` as deploy/README.md says (the configuration next to copies of
    /// scoring/'s policy, benchmarks and probes) and runs `rankd check-config` on it.
    static func checkConfig(_ yaml: String) async throws -> ChildProcess.Finished {
        let etc = try TemporaryDirectory()
        defer { etc.remove() }
        try yaml.write(toFile: etc.file("rankd.yaml"), atomically: true, encoding: .utf8)
        let files = FileManager.default
        try files.copyItem(atPath: RepositoryFiles.path("scoring/policy.yaml"), toPath: etc.file("policy.yaml"))
        try files.copyItem(atPath: RepositoryFiles.path("scoring/benchmarks"), toPath: etc.file("benchmarks"))
        try files.copyItem(atPath: RepositoryFiles.path("scoring/probes"), toPath: etc.file("probes"))
        return try await ChildProcess.runOffPool(
            RepositoryFiles.rankdExecutable, ["check-config", etc.file("rankd.yaml")],
            environment: [
                "RANKD_INGEST_TOKEN": "ingest-token-0123456789", "RANKD_ADMIN_TOKEN": "admin-token-0123456789",
                "RANKD_POSTGRES_URL": "postgres://rankd:not-printed@postgres.database.svc:5432/rankd?sslmode=require",
            ])
    }

    /// The configuration without comments and without its listen line.
    static func settings(_ yaml: String) -> [Substring] {
        yaml.split(separator: "\n").map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0] }
            .filter { !$0.allSatisfy(\.isWhitespace) && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("listen:") }
            .map { Substring($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test func productionConfigurationsPassCheckConfig() async throws {
        let production = try String(contentsOfFile: Self.productionConfig, encoding: .utf8)
        let checked = try await Self.checkConfig(production)
        #expect(checked.status == 0, "\(checked.output)")

        // The Kubernetes ConfigMap carries the same configuration, listening on the pod's address.
        let manifest = try YAMLJSON.parse(
            try String(contentsOfFile: RepositoryFiles.path("deploy/kubernetes/configmap.yaml"), encoding: .utf8))
        guard case .object(let configMap) = manifest, case .object(let data)? = configMap["data"],
            case .string(let embedded)? = data["rankd.yaml"]
        else {
            Issue.record("deploy/kubernetes/configmap.yaml has no data.rankd.yaml")
            return
        }
        let sidecar = try await Self.checkConfig(embedded)
        #expect(sidecar.status == 0, "\(sidecar.output)")
        #expect(embedded.contains(#"listen: "0.0.0.0:8080""#))
        #expect(Self.settings(embedded) == Self.settings(production), "the ConfigMap drifted from deploy/rankd.production.yaml")

        // The replicas' ConfigMap: the same, with storage.postgres (the URL from the Secret).
        guard case .object(let haMap) = try YAMLJSON.parse(
            try String(contentsOfFile: RepositoryFiles.path("deploy/kubernetes-ha/configmap.yaml"), encoding: .utf8)),
            case .object(let haData)? = haMap["data"], case .string(let replicas)? = haData["rankd.yaml"]
        else {
            Issue.record("deploy/kubernetes-ha/configmap.yaml has no data.rankd.yaml")
            return
        }
        let ha = try await Self.checkConfig(replicas)
        #expect(ha.status == 0, "\(ha.output)")
        #expect(ha.output.contains("storage: replicas on PostgreSQL postgres://rankd@postgres.database.svc:5432/rankd"), "\(ha.output)")
        #expect(!ha.output.contains("not-printed"))
        let withoutStorage = Self.settings(replicas).filter { !$0.hasPrefix("storage:") && !$0.hasPrefix("postgres:") }
        #expect(withoutStorage == Self.settings(production), "the replicas' ConfigMap drifted from deploy/rankd.production.yaml")
        let kustomization = try String(contentsOfFile: RepositoryFiles.path("deploy/kubernetes-ha/kustomization.yaml"), encoding: .utf8)
        for file in try FileManager.default.contentsOfDirectory(atPath: RepositoryFiles.path("deploy/kubernetes-ha"))
        where file.hasSuffix(".yaml") && file != "kustomization.yaml" {
            #expect(kustomization.contains("  - \(file)"), "\(file) is not in the kustomization")
        }
    }

    @Test func containerFileCopiesWhatExistsWhereTheConfigurationLooks() throws {
        let text = try String(contentsOfFile: RepositoryFiles.path("deploy/container/Containerfile"), encoding: .utf8)
        var copies: [(source: String, destination: String)] = []
        for line in text.split(separator: "\n") where line.hasPrefix("COPY ") && !line.contains("--from=") {
            let parts = line.split(separator: " ").map(String.init)
            copies.append((parts[1], parts[2]))
        }
        #expect(copies.count >= 6)
        for copy in copies {
            #expect(FileManager.default.fileExists(atPath: RepositoryFiles.path(copy.source)), "COPY \(copy.source): no such file")
        }
        let destination = Dictionary(copies.map { ($0.source, $0.destination) }, uniquingKeysWith: { $1 })
        #expect(destination["deploy/rankd.production.yaml"] == "/etc/rankd/rankd.yaml")
        // The production configuration names policy.yaml, benchmarks and probes next to itself.
        #expect(destination["scoring/policy.yaml"] == "/etc/rankd/policy.yaml")
        #expect(destination["scoring/benchmarks"] == "/etc/rankd/benchmarks")
        #expect(destination["scoring/probes"] == "/etc/rankd/probes")
        #expect(text.contains(#"CMD ["serve", "--config", "/etc/rankd/rankd.yaml""#))
        #expect(text.contains("USER 10001"))
        // The gateway's init step copies the LiteLLM plug-in from where the image puts it.
        #expect(destination["integrations/litellm"] == "/usr/share/rankd/integrations/litellm")
        let deployment = try String(contentsOfFile: RepositoryFiles.path("deploy/kubernetes/deployment.yaml"), encoding: .utf8)
        #expect(deployment.contains(#""cp", "-r", "/usr/share/rankd/integrations/litellm/rankd_litellm", "/plugins/""#))
        #expect(FileManager.default.fileExists(atPath: RepositoryFiles.path("integrations/litellm/rankd_litellm/proxy.py")))
    }

    @Test(.enabled(if: Needs.programs("promtool"), "needs promtool: apt-get install -y --no-install-recommends prometheus"))
    func alertRulesPassPromtoolAndTheirUnitTests() async throws {
        try #require(ChildProcess.isInstalled("promtool"), "install Debian's prometheus package (promtool)")
        let check = try await ChildProcess.runOffPool("promtool", ["check", "rules", RepositoryFiles.path("deploy/prometheus/rules.yml")])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("SUCCESS: 5 rules found"), "\(check.output)")
        let unitTests = try await ChildProcess.runOffPool(
            "promtool", ["test", "rules", RepositoryFiles.path("deploy/prometheus/rules.test.yml")])
        #expect(unitTests.status == 0, "\(unitTests.output)")
        #expect(!unitTests.output.contains("FAILED"), "\(unitTests.output)")
    }

    /// Metric names (`rankd_...`) in a text, histogram series included as written (`_bucket`).
    static func metricNames(in text: String) -> Set<String> {
        Set(text.matches(of: /rankd_[a-z_]+/).map { String($0.output) })
    }

    @Test func everyMetricOfTheDashboardAndTheAlertsIsOnTheMetricsPage() async throws {
        let dashboard = try String(contentsOfFile: RepositoryFiles.path("deploy/grafana/rankd-dashboard.json"), encoding: .utf8)
        let rules = try String(contentsOfFile: RepositoryFiles.path("deploy/prometheus/rules.yml"), encoding: .utf8)
        let wanted = Self.metricNames(in: dashboard).union(Self.metricNames(in: rules))
        #expect(wanted.count >= 20)
        // Every panel is complete enough for Grafana to import.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(dashboard.utf8)) as? [String: Any])
        let panels = try #require(json["panels"] as? [[String: Any]])
        #expect(Set(panels.compactMap { $0["id"] as? Int }).count == panels.count)
        for panel in panels where panel["type"] as? String != "row" {
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty && targets.allSatisfy { ($0["expr"] as? String)?.isEmpty == false }, "\(panel["title"] ?? "")")
            #expect(panel["gridPos"] != nil && panel["datasource"] != nil)
        }

        let exposition = try await HeavyWork.run { try await Self.metricsOfALivelyDaemon() }
        let exposed = Set(
            exposition.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap {
                $0.split(separator: "{", maxSplits: 1)[0].split(separator: " ", maxSplits: 1).first.map(String.init)
            })
        let missing = wanted.subtracting(exposed).sorted()
        #expect(missing.isEmpty, "not on /metrics: \(missing)\n\(exposition)")
    }

    /// `rankd serve` with probing against `rankd mock-provider`: one provider fails every request
    /// (demoted by the fast path), one spends its probe budget at once; one telemetry record is
    /// accepted and one request refused. Returns `/metrics` once all of that shows.
    static func metricsOfALivelyDaemon() async throws -> String {
        try await withLivelyDaemon { _, metrics in metrics }
    }

    /// The lively daemon above, `body` given it and its `/metrics` while it still runs.
    /// - Parameter otherUser: make the directory usable by a user other than this one (the
    ///   daemon runs as `nobody` under the wrapper).
    static func withLivelyDaemon<T>(wrapper: [String] = [], otherUser: Bool = false, _ body: (DaemonProcess, String) async throws -> T)
        async throws -> T
    {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        if otherUser { try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir.path) }
        let model = "acme/tools-1"
        try """
        providers:
          pricey: {ttft_ms: 20, tokens_per_second: 2000}
          broken: {ttft_ms: 20, tokens_per_second: 2000, http_5xx: 1.0}
          steady: {ttft_ms: 20, tokens_per_second: 2000}
        """.write(toFile: dir.file("scenario.yaml"), atomically: true, encoding: .utf8)
        let mock = try await DaemonProcess([
            "mock-provider", "--listen", "127.0.0.1:0", "--scenario", dir.file("scenario.yaml"), "--probes",
            RepositoryFiles.path("scoring/probes"),
        ])
        defer { mock.process.terminate() }

        try RepositoryFiles.writePolicy(
            to: dir.file("policy.yaml"),
            replacing: [
                "interval_seconds: 60 ": "interval_seconds: 0.3 ", "suspicious_interval_seconds: 15 ": "suspicious_interval_seconds: 0.2 ",
                "max_per_minute: 6 ": "max_per_minute: 600 ", "daily_budget_usd: 1.0 ": "daily_budget_usd: 0.01 ",
            ])
        try """
        epoch_interval_seconds: 300
        policy_file: policy.yaml
        probes_dir: \(RepositoryFiles.path("scoring/probes"))
        tokens:
          ingest: {env: RANKD_INGEST_TOKEN}
        endpoints:
          - {provider: pricey, model: \(model), base_url: "\(mock.baseURL)/pricey/v1", upstream_model: m, supported_parameters: [tools],
             pricing: {prompt_per_million_usd: 1000, completion_per_million_usd: 1000}}
          - {provider: broken, model: \(model), base_url: "\(mock.baseURL)/broken/v1", upstream_model: m, supported_parameters: [tools]}
          - {provider: steady, model: \(model), base_url: "\(mock.baseURL)/steady/v1", upstream_model: m, supported_parameters: [tools]}
        """.write(toFile: dir.file("rankd.yaml"), atomically: true, encoding: .utf8)
        let token = "ingest-token-for-the-deployment-test"
        let daemon = try await DaemonProcess(
            ["serve", "--config", dir.file("rankd.yaml"), "--listen", "127.0.0.1:0", "--data-dir", dir.file("data")],
            environment: ["RANKD_INGEST_TOKEN": token], wrapper: wrapper)
        defer { daemon.process.terminate() }
        #expect(await daemon.waitUntilReady())

        let now = RFC3339.format(Timestamp(secondsSince1970: Date().timeIntervalSince1970))
        let record = Data(
            #"{"request_id": "deploy-1", "timestamp": "\#(now)", "model": "\#(model)", "provider": "steady", "status": 200}"#.utf8)
        #expect(try await post(record, to: "\(daemon.baseURL)/v1/telemetry", token: token) == 200)
        #expect(try await post(record, to: "\(daemon.baseURL)/v1/telemetry", token: "wrong-token-0123456789") == 401)

        var text = ""
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let (data, _) = try await URLSession.shared.data(from: URL(string: "\(daemon.baseURL)/metrics")!)
            text = String(decoding: data, as: UTF8.self)
            if text.contains(#"rankd_demotions_total{reason="consecutive_failures"}"#) && text.contains("rankd_fast_path_triggers_total{")
                && value("rankd_probe_budget_exhausted_endpoints", in: text) == 1
            {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(value(#"rankd_ingest_refused_total{reason="unauthorized"}"#, in: text) == 1, "\(text)")
        #expect(value(#"rankd_endpoint_demoted{endpoint_id="broken:acme/tools-1",model="acme/tools-1",provider="broken"}"#, in: text) == 1)
        #expect((value(#"rankd_probes_total{provider="broken",outcome="http_5xx"}"#, in: text) ?? 0) >= 5)
        #expect(value("rankd_probe_budget_exhausted_endpoints", in: text) == 1, "the pricey endpoint spent its budget")
        return try await body(daemon, text)
    }

    /// The value of one series (name with its labels, as exposed) in a Prometheus exposition.
    static func value(_ series: String, in text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    static func post(_ body: Data, to url: String, token: String) async throws -> Int {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }
}
