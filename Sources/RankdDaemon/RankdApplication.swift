import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RankdConfig
import RankdCore
import RankdPlatform
import RankdProber
import RankdServer
import RankdStore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Builds the whole daemon: stores, ranker, epoch loop and HTTP server, as one Hummingbird
/// application whose service group handles SIGTERM/SIGINT. `rankd serve` runs it; tests build it too.
public enum RankdApplication {
    public typealias App = Application<RouterResponder<BasicRequestContext>>

    /// - Parameters:
    ///   - epochLoop: run the epoch loop (off in router tests, which compute epochs by hand).
    ///   - probing: run the synthetic prober when probe suites are configured.
    ///   - extraServices: more long-running services to run in the same group (demo traffic, later the prober).
    ///   - onServerRunning: told the bound port once the server listens (useful with port 0).
    ///   - configurationFile: the file `loaded` was read from: `SIGHUP` and `POST /v1/admin/reload`
    ///     re-read it (nil: nothing to re-read; the admin call answers 409), then `adjustReloaded`
    ///     (the command line's overrides) is applied to what was read.
    public static func build(
        _ loaded: LoadedConfiguration, clock: any WallClock = SystemClock(), logger: Logger, epochLoop: Bool = true, probing: Bool = true,
        configurationFile: String? = nil, adjustReloaded: @escaping @Sendable (inout LoadedConfiguration) throws -> Void = { _ in },
        extraServices: @Sendable (Ranker) -> [any Service] = { _ in [] },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> (app: App, ranker: Ranker) {
        let built = try assemble(
            loaded, clock: clock, logger: logger, epochLoop: epochLoop, probing: probing, configurationFile: configurationFile,
            adjustReloaded: adjustReloaded,
            extraServices: extraServices, onServerRunning: onServerRunning)
        return (built.app, built.daemon.ranker)
    }

    /// `build`, giving the whole daemon state (stores and window ledger too).
    public static func assemble(
        _ loaded: LoadedConfiguration, clock: any WallClock = SystemClock(), logger: Logger, epochLoop: Bool = true, probing: Bool = true,
        configurationFile: String? = nil, adjustReloaded: @escaping @Sendable (inout LoadedConfiguration) throws -> Void = { _ in },
        extraServices: @Sendable (Ranker) -> [any Service] = { _ in [] },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> (app: App, daemon: DaemonState) {
        // Before anything is opened: a certificate that cannot serve stops start-up with its reason.
        let tls = try loaded.configuration.tls.map(tlsConfiguration)
        switch Malloc.prepare() {
        case .jemalloc(let version):
            logger.info("allocator is jemalloc", metadata: ["version": .string(version)])
        case .other:
            logger.warning(
                "malloc is not jemalloc (another allocator preloaded?): resident memory was 12-17 MB higher with glibc's malloc at 20,000 endpoints under load; run rankd without LD_PRELOAD")
        }
        let configuration = loaded.configuration
        // Before any worker lowers its own priority (see `WorkerPriority`): the base, and the
        // server's event-loop threads, which inherit the nice value of the thread that starts
        // them and could not raise it again (an unprivileged process can only lower it).
        _ = WorkerPriority.base
        _ = MultiThreadedEventLoopGroup.singleton
        let daemon = try DaemonState.open(loaded, clock: clock, logger: logger)
        let ranker = daemon.ranker
        let pipeline = try IngestPipeline(
            dedupe: daemon.stores.state.dedupe, ledger: daemon.ledger, ranker: ranker, storage: ranker.holder.storage, metrics: ranker.metrics,
            clock: clock, rule: loaded.policy.ingest, capacity: configuration.ingest.queueRecords, logger: logger)
        // The ranker's registry (the engine's array, in id order) is shared, not the configuration's:
        // the serve command lets the loaded configuration go once the application is built.
        let resolver = ResolverBox(TelemetryResolver(endpoints: ranker.registry))
        let probes = probing && !loaded.probeSuites.isEmpty
        let coldStart = ColdStart(
            endpoints: ranker.registry.count { $0.enabled }, probing: probes,
            deadline: clock.now().adding(seconds: loaded.policy.routing.coldStartMaxSeconds))
        let cluster: ClusterParts? = loaded.postgresAddress.flatMap { address in
            configuration.postgres.map { settings in
                ClusterParts(
                    address: address, settings: settings, listenPort: configuration.listenPort, queueRecords: configuration.ingest.queueRecords,
                    metrics: ranker.metrics, logger: logger)
            }
        }
        var recordProbe: (@Sendable (Observation) async -> Void)?
        if let cluster { recordProbe = { observation in await cluster.recordProbe(observation) } }
        let prober =
            probes
            ? makeProber(loaded, ranker: ranker, clock: clock, coldStart: coldStart, logger: logger, record: recordProbe) : nil
        let live = LiveSettings(
            .init(
                registry: ranker.registry,
                access: ReadAccess(readToken: loaded.readToken, metricsToken: loaded.metricsToken, adminToken: loaded.adminToken),
                ingestToken: loaded.ingestToken))
        let reloader = configurationFile.map {
            ConfigurationReloader(
                file: $0, current: loaded, adjust: adjustReloaded, ranker: ranker, live: live, resolver: resolver, probeTargets: prober?.targets, logger: logger)
        }
        var reload: (@Sendable () async -> ReloadAnswer)?
        if let reloader { reload = { await reloader.reload(source: "admin") } }
        let router = buildRouter(
            ServerDependencies(
                holder: ranker.holder, metrics: ranker.metrics, adminToken: loaded.adminToken, registry: ranker.registry,
                history: HistorySource(
                    epochs: { [history = daemon.stores.state.history] since, until, limit in try history.epochs(since: since, until: until, limit: limit) },
                    epoch: { [history = daemon.stores.state.history] id in try history.epoch(id: id) },
                    policy: { [history = daemon.stores.state.history] hash in try history.policy(hash: hash) }),
                overrides: OverrideSource(
                    apply: { request in try await ranker.applyOverride(request) },
                    revoke: { id, note in try await ranker.revokeOverride(id: id, note: note) },
                    list: { includeEnded in try await ranker.overrides(includeEnded: includeEnded) }),
                ingest: IngestSink(
                    live: live, maxBodyBytes: configuration.ingest.maxBodyBytes,
                    resolve: { records in
                        let now = clock.now()
                        return resolver.resolver.resolve(records, now: now, rule: pipeline.currentRule(now: now))
                    },
                    submit: { records in
                        if let appender = cluster?.appender { return try await appender.submit(records) }
                        return try await pipeline.submit(records)
                    },
                    nearlyFull: { cluster?.appender.nearlyFull ?? pipeline.nearlyFull }),
                coldStart: epochLoop ? coldStart : nil, clock: clock, cacheMaxAgeSeconds: loaded.policy.publication.cacheMaxAgeSeconds,
                figures: LedgerFigures(ledger: daemon.ledger, clock: clock, policy: loaded.policy),
                benchmarks: BenchmarkSource(
                    replace: { body, csv, author, note in
                        switch BenchmarkUploadParser.parse(body, csv: csv, endpointIDs: Set(ranker.registry.map(\.id))) {
                        case .failure(let problems): return .failure(problems)
                        case .success(let scores): return .success(try await ranker.replaceBenchmarks(scores, author: author, note: note))
                        }
                    },
                    list: { uploads in try await ranker.benchmarkListing(uploads: uploads) }),
                live: live,
                reload: reload,
                recompute: { try await ranker.computeAndPublish(.admin) },
                cluster: cluster.map { $0.source }))
        let holder = ranker.holder
        let metrics = ranker.metrics
        let maxAge = loaded.policy.publication.cacheMaxAgeSeconds
        var app = Application(
            router: router,
            server: try serverBuilder(
                tls: tls,
                http1: .init(
                    additionalChannelHandlers: [RankingsFastPath(holder: holder, metrics: metrics, cacheMaxAgeSeconds: maxAge, live: live)])),
            configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort), serverName: "rankd"),
            // The port alone is captured: capturing `configuration` kept its endpoint array (and
            // the strings parsed from the file) for the life of the server.
            onServerRunning: { [listenPort = configuration.listenPort] channel in
                await onServerRunning(channel.localAddress?.port ?? listenPort)
            },
            logger: logger)
        app.addServices(pipeline)
        if epochLoop {
            app.addServices(
                EpochService(
                    ranker: ranker, ledger: daemon.ledger, storage: ranker.holder.storage, clock: clock, intervalSeconds: configuration.epochIntervalSeconds,
                    outlierCheckSeconds: loaded.policy.fastPath.outlierCheckSeconds, routing: loaded.policy.routing,
                    coldStart: coldStart, logger: logger))
        }
        if let cluster {
            // After the ingest pipeline: services stop in reverse order, so the shared log's
            // reading stops before the pipeline drains.
            let node = cluster.node(
                ranker: ranker, pipeline: pipeline, prober: prober, dataDirectory: configuration.dataDirectory, policy: loaded.policy,
                epochHistorySeconds: configuration.retention.epochHistoryDays * 86_400)
            ranker.joinCluster(
                Ranker.ClusterMembership(
                    status: cluster.status, fence: { epoch, demotions, admin in try await node.fence(epoch, demotions: demotions, admin: admin) },
                    notLeader: { await node.notLeader() }))
            app.addServices(node)
        } else if let prober {
            app.addServices(prober)
        }
        if let reloader { app.addServices(ReloadOnHangup(reloader: reloader)) }
        for service in extraServices(ranker) { app.addServices(service) }
        return (app, daemon)
    }
}

extension RankdApplication {
    /// Why the listener's certificate or key cannot be used.
    public struct TLSFilesError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The server side of TLS from the PEM files of `tls:`, checked by building a context once (a
    /// key that does not belong to the certificate fails here, not at the first client).
    static func tlsConfiguration(_ files: RankdConfiguration.TLS) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
        } catch {
            throw TLSFilesError(description: "tls.cert_file \(files.certificateFile) is not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw TLSFilesError(description: "tls.cert_file \(files.certificateFile) holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.keyFile, format: .pem)
        } catch {
            throw TLSFilesError(description: "tls.key_file \(files.keyFile) is not a PEM private key, or is encrypted (\(error))")
        }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSFilesError(
                description: "tls.key_file \(files.keyFile) does not belong to the certificate of \(files.certificateFile) (\(error))")
        }
        return configuration
    }

    /// Checks that the files of `tls:` can serve HTTPS (`rankd check-config`).
    public static func checkTLS(_ files: RankdConfiguration.TLS) throws {
        _ = try tlsConfiguration(files)
    }

    /// HTTP/1.1, over TLS when `tls` is given.
    static func serverBuilder(tls: TLSConfiguration?, http1: HTTP1Channel.Configuration) throws -> HTTPServerBuilder {
        guard let tls else { return .http1(configuration: http1) }
        return try .tls(.http1(configuration: http1), tlsConfiguration: tls)
    }

    /// The prober, feeding the ranker, probing demoted endpoints and those still below
    /// `minimum_samples` at the suspicious interval, telling the cold start of its first round.
    /// - Parameter record: where probe results go (a cluster's shared log); nil: the ranker.
    static func makeProber(
        _ loaded: LoadedConfiguration, ranker: Ranker, clock: any WallClock, coldStart: ColdStart, logger: Logger,
        record: (@Sendable (Observation) async -> Void)? = nil
    ) -> ProbeScheduler {
        let rule = loaded.policy.probing
        let runner = ProbeRunner(rule: rule)
        let holder = ranker.holder
        // The set is asked for at every tick of the loop: made again only when the epoch changes.
        let sooner = Mutex<(epochID: Int64, ids: Set<String>)>((-1, []))
        let exposures = Mutex<(epochID: Int64, ratesVersion: Int64, values: [String: ProbePlanner.Exposure])>((-1, -1, [:]))
        return ProbeScheduler(
            endpoints: ranker.registry, suites: loaded.probeSuites, runner: runner, clock: clock, rule: rule,
            seed: UInt64(clock.now().secondsSince1970.rounded()), logger: logger,
            probeSooner: {
                guard let epoch = holder.epoch else { return [] }
                return sooner.withLock { cached in
                    if cached.epochID != epoch.id {
                        let ids = epoch.models.flatMap(\.endpoints).filter { $0.status == .demoted || $0.status == .insufficientData }
                        cached = (epoch.id, Set(ids.map(\.endpointID)))
                    }
                    return cached.ids
                }
            },
            probedEndpoints: { coldStart.probed($0) },
            exposure: {
                guard let epoch = holder.epoch else { return (0, [:]) }
                let (version, rates) = ranker.liveRates.withLock { $0 }
                return exposures.withLock { cached in
                    if cached.epochID != epoch.id || cached.ratesVersion != version {
                        cached = (epoch.id, version, Self.exposures(epoch, liveRates: rates))
                    }
                    return (cached.epochID &* 1_000_003 &+ cached.ratesVersion, cached.values)
                }
            },
            knownAnswerSuspects: { ranker.knownAnswerSuspects.withLock { $0 } },
            faults: loaded.policy.faults,
            slowProbe: { id, time, waited in await ranker.recordSlowProbe(endpointID: id, at: time, waitedMilliseconds: waited) },
            accounted: { [metrics = ranker.metrics] probe in
                metrics.probeFinished(
                    provider: probe.endpoint.provider, outcome: probe.outcome.rawValue, costUSD: probe.costUSD,
                    budgetExhaustedEndpoints: probe.budgetExhaustedEndpoints)
            },
            record: { result in
                if let record { await record(result.observation) } else { await ranker.record([result.observation]) }
            })
    }

    /// Each endpoint's exposure: its traffic share in the epoch and its live requests a second
    /// over about the last minute.
    static func exposures(_ epoch: Epoch, liveRates: [String: Double]) -> [String: ProbePlanner.Exposure] {
        var result: [String: ProbePlanner.Exposure] = [:]
        for model in epoch.models {
            for entry in model.endpoints where entry.trafficShare > 0 || liveRates[entry.endpointID] != nil {
                result[entry.endpointID] = ProbePlanner.Exposure(
                    share: entry.trafficShare, requestsPerSecond: liveRates[entry.endpointID] ?? 0)
            }
        }
        return result
    }
}

/// Reloads the configuration on `SIGHUP` (systemd's `ExecReload`), until shutdown.
struct ReloadOnHangup: Service {
    let reloader: ConfigurationReloader

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangups { _ = await reloader.reload(source: "sighup") }
        }
    }
}
