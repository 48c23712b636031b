import Foundation
import Logging
import RankdConfig
import RankdCore
import RankdProber
import RankdServer
import Synchronization

/// The telemetry resolver in force (a reload replaces it with one for the new registry).
final class ResolverBox: Sendable {
    private let state: Mutex<TelemetryResolver>

    init(_ resolver: TelemetryResolver) { state = Mutex(resolver) }

    var resolver: TelemetryResolver { state.withLock { $0 } }
    func replace(_ resolver: TelemetryResolver) { state.withLock { $0 = resolver } }
}

/// `SIGHUP` and `POST /v1/admin/reload`: re-reads `rankd.yaml` and everything it names (policy,
/// probe suites, benchmark files, tokens) with the start-up checker, and applies it all or
/// nothing. On any problem nothing changes: every problem is logged and returned, and
/// `rankd_config_reload_failures_total` counts the attempt. What only a restart can change (the
/// listener, the data directory, window lengths, ...) is refused with the key and the fix.
public actor ConfigurationReloader {
    let file: String
    /// What is in force, without its endpoints, probe suites and benchmark scores (the ranker and
    /// prober hold those; with tens of thousands of endpoints a second copy is megabytes).
    private var current: LoadedConfiguration
    /// Applied to every reading of the file: the command line's overrides (`--listen`, `--data-dir`).
    let adjust: @Sendable (inout LoadedConfiguration) throws -> Void
    let ranker: Ranker
    let live: LiveSettings
    let resolver: ResolverBox
    let probeTargets: ProbeTargets?
    let logger: Logger

    init(
        file: String, current: LoadedConfiguration, adjust: @escaping @Sendable (inout LoadedConfiguration) throws -> Void, ranker: Ranker,
        live: LiveSettings, resolver: ResolverBox, probeTargets: ProbeTargets?, logger: Logger
    ) {
        self.file = file
        self.current = Self.trimmed(current)
        self.adjust = adjust
        self.ranker = ranker
        self.live = live
        self.resolver = resolver
        self.probeTargets = probeTargets
        self.logger = logger
    }

    /// Re-reads the files and applies them; `source` names who asked (`sighup`, `admin`) in the log.
    public func reload(source: String) async -> ReloadAnswer {
        var loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader.load(path: file)
            try adjust(&loaded)
        } catch let errors as ConfigurationErrors {
            return refuse(errors.problems.map(\.description), source: source)
        } catch {
            return refuse(["\(file): \(error)"], source: source)
        }
        let restart = Self.restartOnly(from: current, to: loaded, file: file)
        guard restart.isEmpty else { return refuse(restart.map(\.description), source: source) }
        let reloaded: Ranker.Reloaded
        do {
            // The ranker first: it records the registry and policy before it changes anything; if
            // that fails, nothing has changed.
            reloaded = try await ranker.reload(
                policy: loaded.policy, endpoints: loaded.configuration.endpoints, fileBenchmarks: loaded.benchmarks)
        } catch {
            return refuse(["the new configuration could not be recorded in state.db: \(error); nothing changed"], source: source)
        }
        let registry = ranker.registry
        resolver.replace(TelemetryResolver(endpoints: registry))
        live.replace(
            .init(
                registry: registry,
                access: ReadAccess(readToken: loaded.readToken, metricsToken: loaded.metricsToken, adminToken: loaded.adminToken),
                ingestToken: loaded.ingestToken))
        probeTargets?.replace(endpoints: registry, suites: loaded.probeSuites)
        let policyChanged = loaded.policy.hash != current.policy.hash
        current = Self.trimmed(loaded)
        ranker.metrics.configReload(failed: false)
        logger.notice(
            "configuration reloaded",
            metadata: [
                "source": .string(source), "file": .string(file), "epoch_id": .string(reloaded.epoch.map { String($0.id) } ?? "not published"),
                "policy_hash": .string(reloaded.policyHash), "policy_changed": .stringConvertible(policyChanged),
                "added": .string(reloaded.added.joined(separator: ",")), "removed": .string(reloaded.removed.joined(separator: ",")),
                "endpoints": .stringConvertible(registry.count), "probe_cases": .stringConvertible(loaded.probeSuites.map(\.cases.count).reduce(0, +)),
            ])
        return .applied(
            ReloadAnswer.Applied(
                epochID: reloaded.epoch?.id, policyHash: reloaded.policyHash, policyChanged: policyChanged, added: reloaded.added,
                removed: reloaded.removed, endpoints: registry.count))
    }

    private static func trimmed(_ loaded: LoadedConfiguration) -> LoadedConfiguration {
        var kept = loaded
        kept.configuration.endpoints = []
        kept.probeSuites = []
        kept.benchmarks = []
        return kept
    }

    private func refuse(_ problems: [String], source: String) -> ReloadAnswer {
        ranker.metrics.configReload(failed: true)
        logger.error(
            "configuration reload refused: nothing changed",
            metadata: ["source": .string(source), "file": .string(file), "problems": .stringConvertible(problems.count)])
        for problem in problems { logger.error("reload problem", metadata: ["problem": .string(problem)]) }
        return .refused(problems)
    }

    /// What changed that only a restart applies: the listener and TLS files, the data directory,
    /// the ingest queue and body limits, retention, the epoch interval, and the policy keys that
    /// shape the windows, the epoch loop, the prober's plan and the HTTP caching. Each with the fix.
    static func restartOnly(from old: LoadedConfiguration, to new: LoadedConfiguration, file: String) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        func check<T: Equatable>(_ before: T, _ after: T, _ key: String, in place: String = file) {
            guard before != after else { return }
            problems.append(
                ConfigProblem(
                    file: place, path: key,
                    message: "changed from \(describe(before)) to \(describe(after)): only a restart applies it; restart rankd, or put it back to reload the rest"))
        }
        func describe<T>(_ value: T) -> String {
            if let optional = value as? String? { return optional.map { "\"\($0)\"" } ?? "none" }
            return "\(value)"
        }
        let a = old.configuration
        let b = new.configuration
        check(a.listenAddress, b.listenAddress, "listen")
        check(a.dataDirectory, b.dataDirectory, "data_dir")
        check(a.tls?.certificateFile, b.tls?.certificateFile, "tls.cert_file")
        check(a.tls?.keyFile, b.tls?.keyFile, "tls.key_file")
        check(a.epochIntervalSeconds, b.epochIntervalSeconds, "epoch_interval_seconds")
        check(a.ingest.maxBodyBytes, b.ingest.maxBodyBytes, "ingest.max_body_bytes")
        check(a.ingest.queueRecords, b.ingest.queueRecords, "ingest.queue_records")
        check(a.retention.minuteBucketsHours, b.retention.minuteBucketsHours, "retention.minute_buckets_hours")
        check(a.retention.epochHistoryDays, b.retention.epochHistoryDays, "retention.epoch_history_days")
        check(a.retention.publishedEpochsHours, b.retention.publishedEpochsHours, "retention.published_epochs_hours")
        check(a.probesDirectory == nil, b.probesDirectory == nil, "probes_dir (probing on or off)")
        let policyFile = b.policyFile ?? "the built-in policy"
        let p = old.policy
        let q = new.policy
        check(p.windows, q.windows, "windows", in: policyFile)
        check(p.routing, q.routing, "routing", in: policyFile)
        check(p.publication, q.publication, "publication", in: policyFile)
        check(p.probing, q.probing, "probing", in: policyFile)
        check(p.ingest, q.ingest, "ingest", in: policyFile)
        check(p.fastPath.outlierCheckSeconds, q.fastPath.outlierCheckSeconds, "fast_path.outlier_check_seconds", in: policyFile)
        check(p.faults.knownAnswers, q.faults.knownAnswers, "faults.known_answers", in: policyFile)
        check(
            p.faults.latency.firstTokenBoundSeconds, q.faults.latency.firstTokenBoundSeconds, "faults.latency.first_token_bound_seconds",
            in: policyFile)
        return problems
    }
}
