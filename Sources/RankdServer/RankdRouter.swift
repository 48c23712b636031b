import Hummingbird
import RankdCore

/// What the HTTP layer needs from the daemon.
public struct ServerDependencies: Sendable {
    public var holder: EpochHolder
    public var metrics: RankdMetrics
    /// The registry and the tokens, as a reload leaves them.
    public var live: LiveSettings
    public var recompute: @Sendable () async throws -> Epoch
    /// Re-reads the configuration (`POST /v1/admin/reload`); nil: answered 409 (no file to read).
    public var reload: (@Sendable () async -> ReloadAnswer)?
    public var cacheMaxAgeSeconds: Int
    /// Epoch history for `/v1/history` and `/v1/epochs`; nil serves no history routes.
    public var history: HistorySource?
    /// Operator overrides; nil serves no override routes.
    public var overrides: OverrideSource?
    /// Benchmark scores by API; nil serves no benchmark routes.
    public var benchmarks: BenchmarkSource?
    /// Live telemetry; nil serves no ingest routes.
    public var ingest: IngestSink?
    public var clock: any WallClock
    /// The way to the first informed epoch, reported by `/readyz`; nil reports none.
    public var coldStart: ColdStart?
    /// Per-endpoint figures over rolling windows (the daemon's window ledger): preferred cut-offs
    /// and `/v1/models/{model}/endpoints`; nil: the listing answers 503, cut-offs use the epoch's p50.
    public var figures: (any EndpointFiguresSource)?
    /// This replica's role and the replicas seen (`GET /v1/cluster`, `/readyz`); nil: a single node.
    public var cluster: ClusterSource?

    public init(
        holder: EpochHolder, metrics: RankdMetrics, adminToken: String?, registry: [Endpoint] = [], history: HistorySource? = nil,
        overrides: OverrideSource? = nil, ingest: IngestSink? = nil, coldStart: ColdStart? = nil,
        clock: any WallClock, cacheMaxAgeSeconds: Int = 5, readAccess: ReadAccess = ReadAccess(),
        figures: (any EndpointFiguresSource)? = nil, benchmarks: BenchmarkSource? = nil, live: LiveSettings? = nil,
        reload: (@Sendable () async -> ReloadAnswer)? = nil, recompute: @escaping @Sendable () async throws -> Epoch,
        cluster: ClusterSource? = nil
    ) {
        self.cluster = cluster
        self.reload = reload
        var access = readAccess
        access.adminToken = adminToken
        self.live = live ?? LiveSettings(.init(registry: registry, access: access, ingestToken: ingest?.token))
        self.figures = figures
        self.benchmarks = benchmarks
        self.coldStart = coldStart
        self.history = history
        self.overrides = overrides
        self.ingest = ingest
        self.clock = clock
        self.holder = holder
        self.metrics = metrics
        self.recompute = recompute
        self.cacheMaxAgeSeconds = cacheMaxAgeSeconds
    }
}

/// Builds the router: every route of the API, grouped by controller. Tests call this too.
public func buildRouter(_ dependencies: ServerDependencies) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestMetricsMiddleware(metrics: dependencies.metrics))
    router.add(middleware: ReadAccessMiddleware(live: dependencies.live))
    router.addRoutes(
        HealthController(
            holder: dependencies.holder, metrics: dependencies.metrics, coldStart: dependencies.coldStart, cluster: dependencies.cluster?.status
        ).endpoints)
    router.addRoutes(
        ClusterController(
            source: dependencies.cluster ?? ClusterSource(status: ClusterStatus(replica: "local", role: .single), replicas: nil),
            holder: dependencies.holder
        ).endpoints, atPath: "/v1")
    router.addRoutes(
        RankingsController(
            holder: dependencies.holder, live: dependencies.live, maxAgeSeconds: dependencies.cacheMaxAgeSeconds,
            figures: dependencies.figures
        ).endpoints, atPath: "/v1")
    router.addRoutes(AdminController(live: dependencies.live, recompute: dependencies.recompute, reload: dependencies.reload).endpoints, atPath: "/v1")
    router.addRoutes(
        RouteController(holder: dependencies.holder, live: dependencies.live, figures: dependencies.figures).endpoints, atPath: "/v1")
    router.addRoutes(
        ModelEndpointsController(holder: dependencies.holder, live: dependencies.live, figures: dependencies.figures).endpoints,
        atPath: "/v1")
    if let history = dependencies.history {
        router.addRoutes(HistoryController(source: history, clock: dependencies.clock).endpoints, atPath: "/v1")
    }
    router.addRoutes(
        DashboardController(
            holder: dependencies.holder, history: dependencies.history, overrides: dependencies.overrides, clock: dependencies.clock
        ).endpoints)
    if let ingest = dependencies.ingest {
        router.addRoutes(TelemetryController(sink: ingest, metrics: dependencies.metrics).endpoints, atPath: "/v1")
        router.addRoutes(TracesController(sink: ingest, metrics: dependencies.metrics).endpoints, atPath: "/v1")
    }
    if let benchmarks = dependencies.benchmarks {
        router.addRoutes(BenchmarkController(source: benchmarks, live: dependencies.live).endpoints, atPath: "/v1")
    }
    if let overrides = dependencies.overrides {
        router.addRoutes(
            OverrideController(source: overrides, live: dependencies.live, clock: dependencies.clock).endpoints, atPath: "/v1")
    }
    return router
}
